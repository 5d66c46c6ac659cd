"""The distilled word table: English words outside the vocabulary, read by meaning.

``scripts/distill_mood_table.py`` embedded a large English word list with a
pretrained text-embedding model (all-MiniLM-L6-v2) at development time and
kept, for each word, its nearest curated vocabulary words (the anchors) and
their cosine similarities. Here a word's meaning is the similarity-weighted
mix of its nearest anchors' vocabulary entries, so the table needs no model
at run time, stays consistent with the vocabulary, and every word it reads
can say which anchors gave it its meaning and how strongly.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path
from types import MappingProxyType

import numpy as np

from . import vocabulary as vocab
from .params import INSTRUMENT_TAGS, MoodParams

TABLE_PATH = Path(__file__).with_name("data") / "word_table.npz"
"""The shipped table (package data)."""

NEIGHBOURS = 4
"""Nearest anchors mixed into a word's meaning."""

TEMPERATURE = 0.02
"""Softmax temperature over cosine similarity: an anchor 0.02 less similar
than the nearest weighs e times less."""

WEIGHT = 0.8
"""Pull of a table word, against 1.0 for a vocabulary mood word: a word the
designer chose from the vocabulary says more than one read by likeness."""

_FIELD_COVERAGE = 0.3
"""A field is set when anchors holding this share of the weight set it."""

_FIELDS = tuple(name for name in MoodParams().as_dict() if name != "tags")

_INSTRUMENT_SHARE = 1 / 3
"""A word names instrumentation when instruments hold this share of its weight:
an instrument's other neighbours are the styles it plays ("saxophone" is
nearest "jazz", then "trumpet")."""

_TAG_SHARE = 0.35
"""A tag is suggested when anchors holding this share of the weight suggest it."""


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """One anchor that gave a table word its meaning."""

    anchor: str
    """The vocabulary word or phrase."""
    similarity: float
    """Cosine similarity of the two, as the teacher model saw them."""
    weight: float
    """Share of the word's meaning from this anchor; the shares sum to 1."""


class WordTable:
    """Words -> nearest anchors. Load with :func:`word_table`.

    The words are a sorted fixed-width byte array searched by bisection, so
    loading builds no Python object per word (the cold start stays short).
    """

    def __init__(self, words: np.ndarray, anchors: list[str], neighbours: np.ndarray,
                 similarity: np.ndarray, meta: dict) -> None:
        """``words``: sorted bytes (dtype ``S``); row i of ``neighbours`` (anchor indices,
        nearest first) and ``similarity`` belongs to ``words[i]``."""
        missing = [a for a in anchors if vocab.entry(a) is None]
        if missing:
            raise ValueError(f"word table anchors not in the vocabulary: {missing[:5]}; re-run the distillation")
        if not (len(words) == len(neighbours) == len(similarity)):
            raise ValueError("word table arrays differ in length")
        self._words = words
        self._anchors = anchors
        self._neighbours = neighbours
        self._similarity = similarity
        self.meta = meta

    @classmethod
    def from_words(cls, words: list[str], anchors: list[str], neighbours: np.ndarray,
                   similarity: np.ndarray, meta: dict) -> "WordTable":
        """A table from words in any order (rows aligned with ``neighbours``)."""
        order = sorted(range(len(words)), key=lambda i: words[i].encode())
        packed = np.array([words[i].encode() for i in order], dtype=f"S{max(map(len, words), default=1)}")
        return cls(packed, anchors, neighbours[order], similarity[order], meta)

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> "WordTable":
        with np.load(path) as z:
            anchors = z["anchors"].tobytes().decode().split("\n")
            meta = json.loads(z["meta"].tobytes().decode())
            return cls(z["words"], anchors, z["neighbours"], z["similarity"], meta)

    def save(self, path: Path) -> None:
        """Write the table (uncompressed: it loads faster, and is small anyway)."""
        np.savez(
            path,
            words=self._words,
            anchors=np.frombuffer("\n".join(self._anchors).encode(), dtype=np.uint8),
            neighbours=self._neighbours,
            similarity=self._similarity,
            meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8),
        )

    def __len__(self) -> int:
        return len(self._words)

    def _row(self, word: str) -> int | None:
        key = word.encode("ascii", "replace")
        i = int(np.searchsorted(self._words, key))
        return i if i < len(self._words) and self._words[i] == key else None

    def __contains__(self, word: str) -> bool:
        return self._row(word) is not None

    def neighbours(self, word: str) -> tuple[Neighbour, ...]:
        """The anchors that make up ``word``'s meaning, nearest first. KeyError if absent."""
        return _neighbours(self, word)

    def entry(self, word: str) -> vocab.Entry:
        """What ``word`` means, as a vocabulary entry mixed from its neighbours."""
        return _entry(self, word)


@functools.lru_cache(maxsize=4096)
def _neighbours(table: WordTable, word: str) -> tuple[Neighbour, ...]:
    row = table._row(word)
    if row is None:
        raise KeyError(word)
    sims = [float(s) for s in table._similarity[row, :NEIGHBOURS]]
    raw = [math.exp((s - sims[0]) / TEMPERATURE) for s in sims]
    total = sum(raw)
    return tuple(
        Neighbour(table._anchors[i], round(s, 3), round(r / total, 3))
        for i, s, r in zip(table._neighbours[row, :NEIGHBOURS], sims, raw)
    )


@functools.lru_cache(maxsize=4096)
def _entry(table: WordTable, word: str) -> vocab.Entry:
    parts = [(vocab.entry(n.anchor), n.weight) for n in _neighbours(table, word)]
    instrument_share = sum(w for e, w in parts if e.instrument)
    if instrument_share >= _INSTRUMENT_SHARE:
        # Like instruments: it names instrumentation, as its nearest instrument does, and
        # its other neighbours (the styles it plays: "techno" is near synth and electronic)
        # colour the mood, gently, as instrument words do.
        nearest = next(e for e, _ in parts if e.instrument)
        tags, instrument, weight = nearest.tags, True, nearest.weight
    else:
        parts = [(e, w) for e, w in parts if not e.instrument]
        total = sum(w for _, w in parts)
        suggested = {t: sum(w for e, w in parts if t in e.tags) for t in INSTRUMENT_TAGS}
        tags = frozenset(t for t, share in suggested.items() if share >= _TAG_SHARE * total)
        instrument, weight = False, WEIGHT
    values = {}
    for name in _FIELDS:
        setters = [(e.values[name], w) for e, w in parts if name in e.values]
        share = sum(w for _, w in setters)
        if share > 0 and share >= _FIELD_COVERAGE * sum(w for _, w in parts):
            values[name] = sum(v * w for v, w in setters) / share
    return vocab.Entry(MappingProxyType(values), tags, instrument=instrument, weight=weight)


@functools.cache
def word_table() -> WordTable:
    """The shipped table, loaded on first use."""
    return WordTable.load()
