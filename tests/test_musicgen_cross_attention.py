"""The decoder's cross-attention, folded or not, against transformers' own attention module."""

from __future__ import annotations

import pytest
import torch

from adaptive_music.models.musicgen import MusicgenModel
from adaptive_music.models.musicgen.decoder import UNCONDITIONAL, TextCondition
from musicgen_tiny import build_tiny_musicgen

# Token counts with the tiny word-level tokenizer (words + </s>); the tiny head_dim is 8,
# so rows x longest text < 8 folds the projections and 8 or more keeps them.
SHORT, MID = TextCondition("dark"), TextCondition("calm forest")  # 2 and 3 tokens
LONG = TextCondition("dark ambient dungeon calm forest battle epic drums")  # 9 tokens


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return MusicgenModel.load(str(build_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "mono")))


@pytest.mark.parametrize(
    "conditions, folded",
    [((MID,), True), ((SHORT, MID), True), ((LONG,), False), ((SHORT, LONG), False)],
)
def test_cross_attention_equals_transformers(model, conditions, folded):
    dec = model.decoder
    dec.reset((UNCONDITIONAL, *conditions), capacity=8)
    cross = dec._cross_batch()
    assert cross.folded == folded
    x = torch.randn(1 + len(conditions), 3, dec.hidden, generator=torch.Generator().manual_seed(0))
    hf_layers = model.hf.decoder.model.decoder.layers
    for i, (layer, hf_layer) in enumerate(zip(dec.layers, hf_layers)):
        with torch.inference_mode():  # as the decoder's forward runs it
            updated = x.clone()
            cross.add_to(updated[cross.rows], layer, i)
        assert torch.equal(updated[0], x[0])  # the unconditional branch attends to nothing
        for row, condition in enumerate(conditions, start=1):
            states = dec.text_states(condition.text)[None]
            with torch.no_grad():
                h = hf_layer.encoder_attn_layer_norm(x[row : row + 1])
                expected = hf_layer.encoder_attn(h, key_value_states=states)[0]
            torch.testing.assert_close(updated[row] - x[row], expected[0], rtol=1e-5, atol=1e-5)

def test_the_unconditional_branch_must_come_first(model):
    with pytest.raises(ValueError, match="first slot"):
        model.decoder.reset((MID, UNCONDITIONAL), capacity=8)
