"""Token sampling: top-k keeps exactly the tokens transformers' top-k warper keeps."""

from __future__ import annotations

import torch

from adaptive_music.models.musicgen.sampling import SamplingParams, sample


def test_top_k_samples_only_the_k_largest_logits_ties_included():
    logits = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    logits[0, :5] = logits[0].max() + 1.0  # five tied for first: top 3 keeps all of them
    params = SamplingParams(top_k=3)
    generator = torch.Generator().manual_seed(1)
    drawn = torch.stack([sample(logits, params, generator) for _ in range(400)])

    kth = torch.topk(logits, 3, dim=-1).values[..., -1:]  # transformers' TopKLogitsWarper
    allowed = logits >= kth
    for row in range(4):
        assert set(drawn[:, row].tolist()) == set(allowed[row].nonzero().flatten().tolist())
