"""MusicGen's token decoder run incrementally, outside ``generate()``.

It reads the weights of a loaded ``MusicgenForConditionalGeneration`` and runs
the same computation with:

- a preallocated self-attention KV cache, one row ("slot") per guidance branch;
- cross-attention keys/values computed once per condition and reused every step;
- all guidance branches (unconditional + each weighted condition) as one batch.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Hashable, Sequence

import torch
import torch.nn.functional as F

UNCONDITIONAL = None
"""The slot key of the unconditional (empty-text) guidance branch."""


@dataclasses.dataclass(frozen=True)
class TextCondition:
    """A MusicGen condition: the text prompt the decoder cross-attends to."""

    text: str


@dataclasses.dataclass
class _Layer:
    ln1: torch.nn.LayerNorm
    qkv: torch.Tensor  # (3E, E): q, k, v projections stacked
    out: torch.Tensor
    ln2: torch.nn.LayerNorm
    cross_q: torch.Tensor
    cross_k: torch.Tensor
    cross_v: torch.Tensor
    cross_out: torch.Tensor
    ln3: torch.nn.LayerNorm
    fc1: torch.Tensor
    fc2: torch.Tensor
    act: torch.nn.Module


class IncrementalDecoder:
    """Step-by-step MusicGen decoder over a preallocated cache.

    ``slots`` is the tuple of condition keys whose branches occupy the cache rows,
    in order; :meth:`set_slots` reorders (and clones) rows when conditions change,
    so a new condition starts from the self-attention history of the branch it
    replaces: its effect starts at the next step.
    """

    def __init__(self, hf_model, tokenizer, max_conditions: int = 16) -> None:
        dec = hf_model.decoder.model.decoder
        cfg = hf_model.decoder.config
        self.hf = hf_model
        self.tokenizer = tokenizer
        self.num_codebooks = cfg.num_codebooks
        self.vocab_size = cfg.vocab_size
        self.heads = cfg.num_attention_heads
        self.hidden = cfg.hidden_size
        self.head_dim = self.hidden // self.heads
        self.device = dec.layer_norm.weight.device
        self.dtype = dec.layer_norm.weight.dtype
        self.embed = [e.weight for e in dec.embed_tokens]
        self.embed_scale = dec.embed_scale
        self.positions = dec.embed_positions
        self.final_ln = dec.layer_norm
        self.lm_head = torch.cat([h.weight for h in hf_model.decoder.lm_heads], 0)  # (K*V, E)
        self.layers = [
            _Layer(
                ln1=l.self_attn_layer_norm,
                qkv=torch.cat([l.self_attn.q_proj.weight, l.self_attn.k_proj.weight, l.self_attn.v_proj.weight]),
                out=l.self_attn.out_proj.weight,
                ln2=l.encoder_attn_layer_norm,
                cross_q=l.encoder_attn.q_proj.weight,
                cross_k=l.encoder_attn.k_proj.weight,
                cross_v=l.encoder_attn.v_proj.weight,
                cross_out=l.encoder_attn.out_proj.weight,
                ln3=l.final_layer_norm,
                fc1=l.fc1.weight,
                fc2=l.fc2.weight,
                act=l.activation_fn,
            )
            for l in dec.layers
        ]
        self._cross_cache: collections.OrderedDict[Hashable, torch.Tensor] = collections.OrderedDict()
        self._max_conditions = max_conditions
        self._batched: tuple[tuple, torch.Tensor, torch.Tensor | None] | None = None
        self.kv: torch.Tensor | None = None  # (layers, 2, slots, heads, capacity, head_dim)
        self.slots: tuple = ()
        self.length = 0
        """Delayed positions held in the cache."""

    # -- conditions ---------------------------------------------------------

    @torch.no_grad()
    def text_states(self, text: str) -> torch.Tensor:
        """Encoder states the decoder attends to for ``text``: (tokens, E), decoder dtype."""
        enc = self.tokenizer([text], return_tensors="pt")
        ids = enc["input_ids"].to(self.device)
        mask = enc["attention_mask"].to(self.device)
        states = self.hf.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        states = states.to(self.dtype)
        if hasattr(self.hf, "enc_to_dec_proj"):
            states = self.hf.enc_to_dec_proj(states)
        return (states * mask[..., None].to(states.dtype))[0]

    @torch.no_grad()
    def cross_kv(self, key: Hashable) -> torch.Tensor:
        """Cross-attention K/V of every layer for a condition: (layers, 2, heads, S, head_dim).

        The unconditional branch attends to one all-zero state (zero keys and values,
        so its cross-attention adds exactly zero, as transformers' masked null input does).
        """
        cached = self._cross_cache.get(key)
        if cached is not None:
            self._cross_cache.move_to_end(key)
            return cached
        if key is UNCONDITIONAL:
            states = torch.zeros(1, self.hidden, device=self.device, dtype=self.dtype)
        else:
            states = self.text_states(key.text)
        s = states.shape[0]
        kv = torch.stack(
            [
                torch.stack([states @ layer.cross_k.T, states @ layer.cross_v.T])
                for layer in self.layers
            ]
        ).view(len(self.layers), 2, s, self.heads, self.head_dim).transpose(2, 3)
        self._cross_cache[key] = kv
        if len(self._cross_cache) > self._max_conditions:
            self._cross_cache.popitem(last=False)
        return kv

    def _cross_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cross K/V of the current slots stacked as a batch, padded to the longest text."""
        if self._batched is not None and self._batched[0] == self.slots:
            return self._batched[1], self._batched[2]
        parts = [self.cross_kv(key) for key in self.slots]
        longest = max(p.shape[3] for p in parts)
        kv = torch.zeros(
            len(self.layers), 2, len(parts), self.heads, longest, self.head_dim,
            device=self.device, dtype=self.dtype,
        )
        mask = torch.ones(len(parts), 1, 1, longest, dtype=torch.bool, device=self.device)
        for row, part in enumerate(parts):
            kv[:, :, row, :, : part.shape[3]] = part
            mask[row, ..., part.shape[3] :] = False
        batch_mask = None if bool(mask.all()) else mask
        self._batched = (self.slots, kv, batch_mask)
        return kv, batch_mask

    # -- cache --------------------------------------------------------------

    def reset(self, slots: Sequence, capacity: int) -> None:
        """Empty the cache and size it for ``capacity`` positions of ``slots`` branches."""
        shape = (len(self.layers), 2, len(slots), self.heads, capacity, self.head_dim)
        if self.kv is None or self.kv.shape[2] < shape[2] or self.kv.shape[4] < capacity:
            self.kv = torch.empty(shape, device=self.device, dtype=self.dtype)
        self.slots = tuple(slots)
        self.length = 0

    def ensure_capacity(self, positions: int) -> None:
        """Grow the cache (keeping its contents) to hold ``positions`` positions."""
        assert self.kv is not None
        if self.kv.shape[4] >= positions:
            return
        grown = torch.empty(
            (*self.kv.shape[:4], max(positions, 2 * self.kv.shape[4]), self.head_dim),
            device=self.device, dtype=self.dtype,
        )
        grown[..., : self.length, :] = self.kv[..., : self.length, :]
        self.kv = grown

    def set_slots(self, slots: Sequence) -> None:
        """Make the cache rows hold branches for ``slots``.

        A branch that keeps its key keeps its row; a new key takes a copy of the row of
        the condition it most likely replaces (the last conditional slot), so the
        self-attention history stays the music generated so far.
        """
        slots = tuple(slots)
        if slots == self.slots:
            return
        assert self.kv is not None
        old = {key: row for row, key in enumerate(self.slots)}
        conditional = [row for row, key in enumerate(self.slots) if key is not UNCONDITIONAL]
        fallback = conditional[-1] if conditional else 0
        source = [old.get(key, fallback) for key in slots]
        rows = self.kv[:, :, source, :, : self.length]
        if self.kv.shape[2] < len(slots):
            self.kv = torch.empty(
                (*self.kv.shape[:2], len(slots), *self.kv.shape[3:]), device=self.device, dtype=self.dtype
            )
        self.kv[:, :, : len(slots), :, : self.length] = rows
        self.slots = slots

    # -- forward ------------------------------------------------------------

    @torch.no_grad()
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed delayed positions ``tokens`` (K, S), the same for every slot, after the
        cached ones; return the logits of the last position, (slots, K, V), float32."""
        assert self.kv is not None
        start, seq = self.length, tokens.shape[1]
        if start and seq > 1:
            raise ValueError("a multi-position forward must start from an empty cache")
        self.ensure_capacity(start + seq)
        batch = len(self.slots)
        x = sum(self.embed[k][tokens[k]] for k in range(self.num_codebooks)) * self.embed_scale
        x = x + self.positions.weights[start : start + seq].to(x.dtype)
        x = x.unsqueeze(0).expand(batch, seq, self.hidden)
        cross, cross_mask = self._cross_batch()
        end = start + seq
        heads = (batch, seq, self.heads, self.head_dim)
        for i, layer in enumerate(self.layers):
            h = layer.ln1(x)
            q, k, v = (h @ layer.qkv.T).split(self.hidden, dim=-1)
            cache_k = self.kv[i, 0, :batch]
            cache_v = self.kv[i, 1, :batch]
            cache_k[:, :, start:end] = k.reshape(heads).transpose(1, 2)
            cache_v[:, :, start:end] = v.reshape(heads).transpose(1, 2)
            a = F.scaled_dot_product_attention(
                q.reshape(heads).transpose(1, 2), cache_k[:, :, :end], cache_v[:, :, :end], is_causal=seq > 1
            )
            x = x + a.transpose(1, 2).reshape(batch, seq, self.hidden) @ layer.out.T
            h = layer.ln2(x)
            q = (h @ layer.cross_q.T).reshape(heads).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, cross[i, 0], cross[i, 1], attn_mask=cross_mask)
            x = x + a.transpose(1, 2).reshape(batch, seq, self.hidden) @ layer.cross_out.T
            h = layer.ln3(x)
            x = x + layer.act(h @ layer.fc1.T) @ layer.fc2.T
        self.length = end
        last = self.final_ln(x[:, -1])
        return (last @ self.lm_head.T).view(batch, self.num_codebooks, self.vocab_size).float()
