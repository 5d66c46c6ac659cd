"""MusicGen's token decoder run incrementally, outside ``generate()``.

It reads the weights of a loaded ``MusicgenForConditionalGeneration`` and runs
the same computation with:

- a preallocated self-attention KV cache, one row ("slot") per guidance branch;
- cross-attention keys/values computed once per condition and reused every step,
  with the query and output projections folded into them for short prompts;
- all guidance branches (unconditional + each weighted condition) as one batch.

Decoding one position is bound by reading the weights from memory, so the step
reads each weight matrix once for the whole batch and avoids the ones it can.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

# Self-attention sees one more cached position every step, so every step has a new shape.
# cuDNN's attention (torch's first choice on Hopper) builds an execution graph per new
# shape: 2.2 ms of CPU per call on an H200, 53 ms a step for musicgen-small, ten times
# the step itself. The other kernels need no per-shape setup.
_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]

UNCONDITIONAL = None
"""The slot key of the unconditional (empty-text) guidance branch; it can only be the first slot."""


@dataclasses.dataclass(frozen=True)
class TextCondition:
    """A MusicGen condition: the text prompt the decoder cross-attends to."""

    text: str


_Norm = Callable[[torch.Tensor], torch.Tensor]


def _norm(ln: torch.nn.LayerNorm) -> _Norm:
    """``ln`` as a plain function: a step calls three per layer, so module overhead counts."""
    return functools.partial(
        torch.layer_norm, normalized_shape=ln.normalized_shape, weight=ln.weight, bias=ln.bias, eps=ln.eps
    )


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """``F.gelu`` (exact, erf) through ATen's vectorised kernel. ``F.gelu`` sends contiguous
    float32 input to oneDNN, whose per-call setup outweighs the op at decoding sizes
    (2 x 4096 values); a transposed view of the same memory takes ATen's path. Needs an
    even number of values (the FFN width is)."""
    return F.gelu(x.view(-1, 2).T).T.view(x.shape)


@dataclasses.dataclass
class _Layer:
    """One decoder layer's parameters; matrices as transposed views (in, out) of the
    (out, in) weights, so ``x @ w`` runs the fast layout without a per-call transpose."""

    ln1: _Norm
    qkv: torch.Tensor  # q, k, v projections stacked: (E, 3E)
    out: torch.Tensor
    ln2: _Norm | None  # the cross-attention's; None for prefix-conditioned (melody) decoders
    cross_q: torch.Tensor | None
    cross_k: torch.Tensor | None
    cross_v: torch.Tensor | None
    cross_out: torch.Tensor | None
    ln3: _Norm
    fc1: torch.Tensor
    fc2: torch.Tensor
    act: Callable[[torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class _CrossBatch:
    """Cross-attention operands of the conditional rows of one batch of slots.

    The unconditional branch attends to one all-zero state, so its cross-attention
    adds exactly zero (as transformers' masked null input does) and is skipped.

    While rows x longest text < head_dim, the query projection is folded into the keys
    and the output projection into the values: per head h,
    ``scores_h = x W_q,h^T K_h^T`` and ``out = sum_h p_h V_h W_o,h^T``, so a step reads
    2*rows*H*T*E floats instead of the 2*E*E of the two projections. Longer prompts or
    wider blends would read (and hold) more than the projections, so those keep per-head
    keys/values and run the projections.
    """

    slots: tuple
    rows: slice
    text: int
    """Tokens of the longest text; shorter ones are padded and masked."""
    folded: bool
    keys: tuple[torch.Tensor, ...]  # per layer: folded (rows, E, H*T), else (rows, H, T, head_dim)
    values: tuple[torch.Tensor, ...]  # per layer: folded (rows, H*T, E), else (rows, H, T, head_dim)
    mask: torch.Tensor | None  # (rows, 1, 1, T), False past each text; None if no text is padded

    def add_to(self, xc: torch.Tensor, layer: _Layer, i: int) -> None:
        """Add layer ``i``'s cross-attention to ``xc``, the conditional rows (R, S, E) of the
        residual stream."""
        h = layer.ln2(xc)
        rows, seq, hidden = h.shape
        if self.folded:
            scores = torch.bmm(h, self.keys[i]).view(rows, seq, -1, self.text)
            if self.mask is not None:
                scores = scores.masked_fill(~self.mask, float("-inf"))
            p = scores.softmax(dim=-1).view(rows, seq, -1)
            xc.baddbmm_(p, self.values[i])
        else:
            heads, _, head_dim = self.keys[i].shape[1:]
            q = (h @ layer.cross_q).view(rows, seq, heads, head_dim).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, self.keys[i], self.values[i], attn_mask=self.mask)
            xc += a.transpose(1, 2).reshape(rows, seq, hidden) @ layer.cross_out


def _cross_weights(attention, norm) -> dict:
    """A layer's cross-attention operands (all None where the layer has none)."""
    if attention is None:
        return dict(ln2=None, cross_q=None, cross_k=None, cross_v=None, cross_out=None)
    return dict(ln2=_norm(norm), cross_q=attention.q_proj.weight.T, cross_k=attention.k_proj.weight.T,
                cross_v=attention.v_proj.weight.T, cross_out=attention.out_proj.weight.T)


def _checked(slots: Sequence) -> tuple:
    """``slots`` as a tuple; the cross-attention skips the unconditional branch as the first row."""
    slots = tuple(slots)
    if UNCONDITIONAL in slots[1:]:
        raise ValueError("the unconditional branch can only be the first slot")
    return slots


class IncrementalDecoder:
    """Step-by-step MusicGen decoder over a preallocated cache.

    ``slots`` is the tuple of condition keys whose branches occupy the cache rows,
    in order; :meth:`set_slots` reorders (and clones) rows when conditions change,
    so a new condition starts from the self-attention history of the branch it
    replaces: its effect starts at the next step.
    """

    @torch.inference_mode()
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
        self.final_ln = _norm(dec.layer_norm)
        self.lm_head = torch.cat([h.weight for h in hf_model.decoder.lm_heads]).T  # (E, K*V)
        self.layers = [
            _Layer(
                ln1=_norm(l.self_attn_layer_norm),
                qkv=torch.cat([l.self_attn.q_proj.weight, l.self_attn.k_proj.weight, l.self_attn.v_proj.weight]).T,
                out=l.self_attn.out_proj.weight.T,
                **_cross_weights(getattr(l, "encoder_attn", None), getattr(l, "encoder_attn_layer_norm", None)),
                ln3=_norm(l.final_layer_norm),
                fc1=l.fc1.weight.T,
                fc2=l.fc2.weight.T,
                act=_gelu if cfg.activation_function == "gelu" else l.activation_fn,
            )
            for l in dec.layers
        ]
        self._cross_cache: collections.OrderedDict[TextCondition, torch.Tensor] = collections.OrderedDict()
        self._max_conditions = max_conditions
        self._batched: _CrossBatch | None = None
        self.kv: torch.Tensor | None = None  # (layers, 2, slots, heads, capacity, head_dim)
        self.slots: tuple = ()
        self.prefix = 0
        """Cache positions before the delayed ones: the condition prefix of a melody
        decoder (:mod:`.melody`); 0 for cross-attention."""
        self.length = 0
        """Delayed positions held in the cache (after the prefix)."""

    # -- conditions ---------------------------------------------------------

    @torch.inference_mode()
    def text_states(self, text: str, max_tokens: int | None = None) -> torch.Tensor:
        """Encoder states the decoder attends to for ``text`` (its first ``max_tokens``
        tokens): (tokens, E), decoder dtype."""
        limit = {} if max_tokens is None else {"truncation": True, "max_length": max_tokens}
        enc = self.tokenizer([text], return_tensors="pt", **limit)
        ids = enc["input_ids"].to(self.device)
        mask = enc["attention_mask"].to(self.device)
        states = self.hf.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        states = states.to(self.dtype)
        if hasattr(self.hf, "enc_to_dec_proj"):
            states = self.hf.enc_to_dec_proj(states)
        return (states * mask[..., None].to(states.dtype))[0]

    @torch.inference_mode()
    def cross_kv(self, condition: TextCondition) -> torch.Tensor:
        """Cross-attention K/V of every layer for a condition: (layers, 2, heads, T, head_dim)."""
        cached = self._cross_cache.get(condition)
        if cached is not None:
            self._cross_cache.move_to_end(condition)
            return cached
        states = self.text_states(condition.text)
        kv = torch.stack(
            [torch.stack([states @ layer.cross_k, states @ layer.cross_v]) for layer in self.layers]
        ).view(len(self.layers), 2, len(states), self.heads, self.head_dim).transpose(2, 3)
        self._cross_cache[condition] = kv
        if len(self._cross_cache) > self._max_conditions:
            self._cross_cache.popitem(last=False)
        return kv

    @torch.inference_mode()
    def _cross_batch(self) -> _CrossBatch | None:
        """Cross-attention operands of the current slots (None if all are unconditional)."""
        if self._batched is not None and self._batched.slots == self.slots:
            return self._batched
        first = 1 if self.slots[0] is UNCONDITIONAL else 0
        parts = [self.cross_kv(key) for key in self.slots[first:]]
        if not parts:
            return None
        text = max(p.shape[3] for p in parts)
        kv = torch.zeros(
            len(self.layers), 2, len(parts), self.heads, text, self.head_dim,
            device=self.device, dtype=self.dtype,
        )
        mask = torch.ones(len(parts), 1, 1, text, dtype=torch.bool, device=self.device)
        for row, part in enumerate(parts):
            kv[:, :, row, :, : part.shape[3]] = part
            mask[row, ..., part.shape[3] :] = False
        keys, values = kv[:, 0], kv[:, 1]
        folded = len(parts) * text < self.head_dim
        if folded:
            keys, values = self._fold(keys, values)
        self._batched = _CrossBatch(
            self.slots, slice(first, None), text, folded, keys.unbind(), values.unbind(),
            None if bool(mask.all()) else mask,
        )
        return self._batched

    def _fold(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head keys and values (layers, rows, H, T, head_dim) with the query and output
        projections folded in: ``(K_h W_q,h)^T / sqrt(head_dim)`` (layers, rows, E, H*T) and
        ``V_h W_o,h^T`` (layers, rows, H*T, E). Both are transposed views of (out, in)
        storage, the fast layout for the step's products. Computed in float32."""
        shape = (self.heads, self.head_dim, self.hidden)
        scale = self.head_dim**-0.5
        folded_keys, folded_values = [], []
        for layer, k, v in zip(self.layers, keys.float(), values.float()):
            q = layer.cross_q.T.float().view(shape)  # W_q,h
            o = layer.cross_out.float().reshape(shape)  # W_o,h^T
            folded_keys.append(torch.einsum("rhtd,hde->rhte", k * scale, q).flatten(1, 2))
            folded_values.append(torch.einsum("rhtd,hde->reht", v, o).flatten(2, 3))
        keys_t, values_t = (torch.stack(f).to(self.dtype) for f in (folded_keys, folded_values))
        return keys_t.transpose(2, 3), values_t.transpose(2, 3)

    # -- cache --------------------------------------------------------------

    @torch.inference_mode()
    def reset(self, slots: Sequence, capacity: int) -> None:
        """Empty the cache and size it for ``capacity`` positions of ``slots`` branches."""
        slots = _checked(slots)
        capacity += self.prefix
        shape = (len(self.layers), 2, len(slots), self.heads, capacity, self.head_dim)
        if self.kv is None or self.kv.shape[2] < shape[2] or self.kv.shape[4] < capacity:
            self.kv = torch.empty(shape, device=self.device, dtype=self.dtype)
        self.slots = slots
        self.length = 0

    @torch.inference_mode()
    def ensure_capacity(self, positions: int) -> None:
        """Grow the cache (keeping its contents) to hold ``positions`` positions."""
        assert self.kv is not None
        if self.kv.shape[4] >= positions:
            return
        grown = torch.empty(
            (*self.kv.shape[:4], max(positions, 2 * self.kv.shape[4]), self.head_dim),
            device=self.device, dtype=self.dtype,
        )
        held = self.prefix + self.length
        grown[..., :held, :] = self.kv[..., :held, :]
        self.kv = grown

    @torch.inference_mode()
    def set_slots(self, slots: Sequence) -> None:
        """Make the cache rows hold branches for ``slots``.

        A branch that keeps its key keeps its row; a new key takes a copy of the row of
        the condition it most likely replaces (the last conditional slot), so the
        self-attention history stays the music generated so far.
        """
        slots = _checked(slots)
        if slots == self.slots:
            return
        assert self.kv is not None
        old = {key: row for row, key in enumerate(self.slots)}
        conditional = [row for row, key in enumerate(self.slots) if key is not UNCONDITIONAL]
        fallback = conditional[-1] if conditional else 0
        source = [old.get(key, fallback) for key in slots]
        held = self.prefix + self.length
        rows = self.kv[:, :, source, :, :held]
        if self.kv.shape[2] < len(slots):
            self.kv = torch.empty(
                (*self.kv.shape[:2], len(slots), *self.kv.shape[3:]), device=self.device, dtype=self.dtype
            )
        self.kv[:, :, : len(slots), :, :held] = rows
        self.slots = slots

    # -- forward ------------------------------------------------------------

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed delayed positions ``tokens`` (K, S), the same for every slot, after the
        cached ones; return the logits of the last position, (slots, K, V), float32."""
        assert self.kv is not None
        seq = tokens.shape[1]
        if self.length and seq > 1:
            raise ValueError("a multi-position forward must start from an empty cache")
        start = self.prefix + self.length  # cache positions [start, end) are fed now
        end = start + seq
        self.ensure_capacity(end)
        batch = len(self.slots)
        x = sum(self.embed[k][tokens[k]] for k in range(self.num_codebooks)) * self.embed_scale
        x = x + self.positions.weights[start:end].to(x.dtype)
        x = x.expand(batch, seq, self.hidden).contiguous()
        flat = x.view(batch * seq, self.hidden)  # the residual stream, updated in place
        cross = self._cross_batch()
        conditional = x[cross.rows] if cross is not None else None
        caches = self.kv[:, :, :batch, :, :end].unbind()  # per layer (2, B, H, positions, head_dim)
        # Several new positions each see the prefix and the new ones up to themselves.
        prefixed = seq > 1 and start > 0
        causal = torch.ones(seq, end, dtype=torch.bool, device=self.device).tril(start) if prefixed else None
        with sdpa_kernel(_ATTENTION):
            for i, (layer, cache) in enumerate(zip(self.layers, caches)):
                qkv = (layer.ln1(flat) @ layer.qkv).view(batch, seq, 3, self.heads, self.head_dim)
                qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, H, S, head_dim)
                cache[..., start:end, :] = qkv[1:]
                a = F.scaled_dot_product_attention(qkv[0], cache[0], cache[1], attn_mask=causal,
                                                   is_causal=seq > 1 and not prefixed)
                flat.addmm_(a.transpose(1, 2).reshape(batch * seq, self.hidden), layer.out)
                if cross is not None:
                    cross.add_to(conditional, layer, i)
                flat.addmm_(layer.act(layer.ln3(flat) @ layer.fc1), layer.fc2)
        self.length = end - self.prefix
        last = self.final_ln(x[:, -1])
        return (last @ self.lm_head).view(batch, self.num_codebooks, self.vocab_size).float()
