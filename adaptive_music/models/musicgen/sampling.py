"""Classifier-free guidance over weighted prompts, and seeded token sampling."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import torch


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    """How logits become tokens. ``temperature`` 0 means greedy (argmax)."""

    guidance: float = 3.0
    """Classifier-free guidance scale g; 1 runs no unconditional branch."""
    temperature: float = 1.0
    top_k: int = 250
    """Keep the k most likely tokens; 0 keeps all."""
    top_p: float = 0.0
    """Keep the smallest set of tokens whose probability reaches p; 0 disables."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.guidance) and self.guidance >= 1.0):
            raise ValueError(f"guidance must be >= 1, got {self.guidance}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0.0):
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not (0.0 <= self.top_p <= 1.0):
            raise ValueError(f"top_p must be in [0, 1], got {self.top_p}")

    @property
    def unconditional(self) -> bool:
        """Whether guidance needs the unconditional branch."""
        return self.guidance > 1.0


def guide(logits: torch.Tensor, weights: Sequence[float], guidance: float) -> torch.Tensor:
    """Combine branch logits (branches, K, V) into (K, V).

    With an unconditional branch (row 0): ``uncond + sum_i w_i * g * (cond_i - uncond)``.
    Without (g == 1) that sum reduces to ``sum_i w_i * cond_i``. For one condition of
    weight 1 both are bit-identical to transformers' guidance.
    """
    if guidance > 1.0:
        uncond = logits[0]
        out = uncond.clone()
        for row, w in enumerate(weights, start=1):
            out += (w * guidance) * (logits[row] - uncond)
        return out
    out = weights[0] * logits[0]
    for row, w in enumerate(weights[1:], start=1):
        out += w * logits[row]
    return out


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> torch.Tensor:
    """One token per row of ``logits`` (K, V): greedy, or top-k/top-p at a temperature.

    Sampling uses the Gumbel-max trick (argmax of logits plus Gumbel noise), which draws
    from the softmax exactly and needs no device-to-host sync.
    """
    if params.temperature == 0.0:
        return logits.argmax(dim=-1)
    scores = logits / params.temperature
    if 0 < params.top_k < scores.shape[-1]:
        kth = torch.topk(scores, params.top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if 0.0 < params.top_p < 1.0:
        ordered, order = scores.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        drop_sorted = probs.cumsum(dim=-1) - probs >= params.top_p  # mass before this token
        drop = torch.empty_like(drop_sorted).scatter_(-1, order, drop_sorted)
        scores = scores.masked_fill(drop, -math.inf)
    uniform = torch.rand(scores.shape, generator=generator, device=scores.device, dtype=torch.float32)
    gumbel = -torch.log(-torch.log(uniform.clamp_(1e-10, 1.0 - 1e-7)))
    return (scores + gumbel).argmax(dim=-1)
