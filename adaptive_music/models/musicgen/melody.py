"""MusicGen-melody's decoder: conditioned by a prefix, not by cross-attention.

``MusicgenMelodyForConditionalGeneration`` puts its conditions *before* the codes in the
decoder's own sequence: ``chroma_length`` rows of projected melody chroma (the theme's
frames tiled to that length), then the projected text states; the delayed codes follow
at the positions after them, under plain causal self-attention. Its guidance branch has
the null chroma (bin 0 set) and all-zero text states of the same length.

Here every cache row (guidance branch) starts with its condition's prefix. A prefix
attends only to itself, so its keys/values are computed once per condition and copied
in. All rows share one prefix length: shorter texts are padded with zero states, as
transformers pads a batch of prompts. When a condition changes mid-stream the new
branch keeps the music's self-attention history and gets its own prefix (the same
approximation the cross-attention decoder makes).
"""

from __future__ import annotations

import collections
import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .decoder import UNCONDITIONAL, IncrementalDecoder, _checked

MAX_TEXT_TOKENS = 64
"""Text tokens kept per prompt: the prefix must leave the window its positions."""


class MelodyDecoder(IncrementalDecoder):
    """:class:`IncrementalDecoder` for MusicGen-melody checkpoints; ``chroma`` (frames, 12)
    is the theme every branch but the unconditional one is conditioned on (None: no
    theme, the null chroma, as transformers uses without audio)."""

    @torch.inference_mode()
    def __init__(self, hf_model, tokenizer, chroma: np.ndarray | None = None, max_conditions: int = 16) -> None:
        super().__init__(hf_model, tokenizer, max_conditions)
        self.chroma_length = int(hf_model.config.chroma_length)
        null = np.zeros((1, int(hf_model.config.num_chroma)), np.float32)
        null[0, 0] = 1.0
        self._null = self._tiled(null)
        self._theme = self._tiled(null if chroma is None else np.asarray(chroma, np.float32))
        self._texts: collections.OrderedDict = collections.OrderedDict()
        self._prefixes: collections.OrderedDict = collections.OrderedDict()

    def _tiled(self, chroma: np.ndarray) -> torch.Tensor:
        """Projected chroma repeated to ``chroma_length`` rows, as transformers tiles it."""
        states = torch.as_tensor(chroma, device=self.device, dtype=self.dtype)
        if hasattr(self.hf, "audio_enc_to_dec_proj"):
            states = self.hf.audio_enc_to_dec_proj(states)
        repeats = math.ceil(self.chroma_length / len(states))
        return states.repeat(repeats, 1)[: self.chroma_length]

    # -- conditions -----------------------------------------------------------

    def _text(self, key) -> torch.Tensor:
        """Text states of a slot key, (tokens, E); none for the unconditional branch."""
        if key is UNCONDITIONAL:
            return torch.zeros(0, self.hidden, device=self.device, dtype=self.dtype)
        states = self._texts.get(key)
        if states is None:
            states = self._texts[key] = self.text_states(key.text, MAX_TEXT_TOKENS)
            if len(self._texts) > self._max_conditions:
                self._texts.popitem(last=False)
        return states

    def _text_tokens(self, slots: Sequence) -> int:
        return max(len(self._text(key)) for key in slots)

    @torch.inference_mode()
    def prefix_kv(self, key, text_tokens: int) -> torch.Tensor:
        """Self-attention K/V of a slot's prefix with its text padded to ``text_tokens``:
        (layers, 2, heads, chroma_length + text_tokens, head_dim)."""
        cached = self._prefixes.get((key, text_tokens))
        if cached is not None:
            return cached
        text = self._text(key)
        pad = torch.zeros(text_tokens - len(text), self.hidden, device=self.device, dtype=self.dtype)
        chroma = self._null if key is UNCONDITIONAL else self._theme
        x = torch.cat([chroma, text, pad])
        x = (x + self.positions.weights[: len(x)].to(x.dtype))[None]
        kv = []
        for layer in self.layers:
            q, k, v = (layer.ln1(x) @ layer.qkv).view(1, len(x[0]), 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + a.transpose(1, 2).reshape(x.shape) @ layer.out
            x = x + layer.act(layer.ln3(x) @ layer.fc1) @ layer.fc2
            kv.append(torch.stack([k[0], v[0]]))
        self._prefixes[(key, text_tokens)] = kv = torch.stack(kv)
        if len(self._prefixes) > self._max_conditions:
            self._prefixes.popitem(last=False)
        return kv

    def _write_prefixes(self) -> None:
        text_tokens = self.prefix - self.chroma_length
        for row, key in enumerate(self.slots):
            self.kv[:, :, row, :, : self.prefix] = self.prefix_kv(key, text_tokens)

    def _cross_batch(self) -> None:
        return None  # no cross-attention: the conditions are in the prefix

    # -- cache ----------------------------------------------------------------

    @torch.inference_mode()
    def reset(self, slots: Sequence, capacity: int) -> None:
        """Empty the cache, size it, and put each slot's prefix at its start."""
        slots = _checked(slots)
        self.prefix = self.chroma_length + self._text_tokens(slots)
        super().reset(slots, capacity)
        self._write_prefixes()

    @torch.inference_mode()
    def set_slots(self, slots: Sequence) -> None:
        """As :meth:`IncrementalDecoder.set_slots`, then each row gets its own prefix; a
        longer text first moves the cached codes along to make room."""
        slots = _checked(slots)
        if slots == self.slots:
            return
        prefix = self.chroma_length + self._text_tokens(slots)
        if prefix > self.prefix:
            self.ensure_capacity(prefix + self.length)
            codes = self.kv[..., self.prefix : self.prefix + self.length, :].clone()
            self.kv[..., prefix : prefix + self.length, :] = codes
            self.prefix = prefix
        super().set_slots(slots)
        self._write_prefixes()
