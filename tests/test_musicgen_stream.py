"""Streaming behaviour of the MusicGen backend: split calls, rolls, state bytes, mood changes."""

from __future__ import annotations

import numpy as np
import pytest

from adaptive_music.models.base import Blend, GeneratorState, Model, Mood
from adaptive_music.models.musicgen import MusicgenModel, SamplingParams, TextCondition
from musicgen_tiny import build_tiny_musicgen

CALM, BATTLE = Mood("calm forest night"), Mood("epic battle drums")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "mono")


@pytest.fixture
def sampled(checkpoint):
    return MusicgenModel.load(str(checkpoint), sampling=SamplingParams(guidance=3.0, top_k=20))


@pytest.fixture
def greedy(checkpoint):
    return MusicgenModel.load(str(checkpoint), sampling=SamplingParams(guidance=3.0, temperature=0.0))


def test_implements_the_model_interface(sampled):
    assert isinstance(sampled, Model)
    config = sampled.default_config()
    assert (config.sample_rate, config.frame_rate) == (32000, 50.0)
    assert config.window_seconds <= 30.0
    assert sampled.markers(np.zeros((5, 4), np.int64), sampled.initial_state()) == []
    assert sampled.next_boundary(sampled.initial_state(), "bar") is None
    assert sampled.effects() is None
    assert sampled.condition(Mood("dark cave")) == TextCondition("dark cave")
    assert sampled.condition(Mood("dark cave", intensity=1.0)) != TextCondition("dark cave")


def test_split_calls_equal_one_call(greedy):
    condition = greedy.condition(CALM)
    whole, _ = greedy.generate(greedy.initial_state(), condition, 30, seed=0)
    first, state = greedy.generate(greedy.initial_state(), condition, 11, seed=0)
    second, state = greedy.generate(state, condition, 19, seed=0)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    assert state.frame == 30 and state.tokens.shape == (30, 4)


def test_sampling_is_seeded(sampled):
    condition = sampled.condition(CALM)
    a, _ = sampled.generate(sampled.initial_state(), condition, 20, seed=5)
    b, _ = sampled.generate(sampled.initial_state(), condition, 20, seed=5)
    c, _ = sampled.generate(sampled.initial_state(), condition, 20, seed=6)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    assert a.min() >= 0 and a.max() < 64


def test_state_bytes_round_trip_continues_identically(sampled):
    condition = sampled.condition(CALM)
    _, state = sampled.generate(sampled.initial_state(), condition, 15, seed=1)
    restored = GeneratorState.from_bytes(state.to_bytes())
    np.testing.assert_array_equal(restored.tokens, state.tokens)
    np.testing.assert_array_equal(restored.data["pending"], state.data["pending"])
    assert restored.frame == state.frame and not restored.cache

    from_restored, _ = sampled.generate(restored, condition, 12, seed=2)  # rebuilt by a prefill
    from_cache, _ = sampled.generate(state, condition, 12, seed=2)  # state still owns the KV cache
    np.testing.assert_array_equal(from_restored, from_cache)


def test_roll_keeps_the_prompt_prefix(sampled):
    condition = sampled.condition(CALM)
    _, state = sampled.generate(sampled.initial_state(), condition, 40, seed=0)
    rolled = sampled.roll(state, 16)
    np.testing.assert_array_equal(rolled.tokens, state.tokens[-16:])
    assert rolled.frame == state.frame
    tokens, after = sampled.generate(rolled, condition, 10, seed=3)
    np.testing.assert_array_equal(after.tokens[:16], state.tokens[-16:])
    np.testing.assert_array_equal(after.tokens[16:], tokens)
    assert after.frame == state.frame + 10 and after.tokens.shape == (26, 4)
    # The codebooks already sampled ahead of the window are kept, not resampled.
    pending = state.data["pending"]
    for k, delay in enumerate(sampled.delays):
        ahead = sampled.max_delay - delay
        np.testing.assert_array_equal(tokens[:ahead, k], pending[:ahead, k])
        assert (pending[ahead:, k] == -1).all()


def test_window_longer_than_the_model_is_refused(sampled):
    with pytest.raises(ValueError, match="roll first"):
        sampled.generate(sampled.initial_state(), sampled.condition(CALM), sampled.max_positions, seed=0)


def test_mood_change_changes_logits_from_its_step_on_and_not_before(greedy):
    calm, battle = greedy.condition(CALM), greedy.condition(BATTLE)
    start = greedy.initial_state()
    _, _, steady = greedy.step_logits(start, calm, 20, seed=0)

    _, state, before = greedy.step_logits(greedy.initial_state(), calm, 8, seed=0)
    _, _, after = greedy.step_logits(state, battle, 12, seed=0)

    assert len(before) + len(after) == len(steady)
    for ours, reference in zip(before, steady):
        np.testing.assert_array_equal(ours, reference)
    for ours, reference in zip(after, steady[len(before) :]):
        assert not np.allclose(ours, reference, atol=1e-3)


def test_blend_is_weighted_guidance_per_step(greedy):
    calm, battle = greedy.condition(CALM), greedy.condition(BATTLE)
    _, state = greedy.generate(greedy.initial_state(), calm, 10, seed=0)
    f = state.frame

    def one_step(condition):
        restored = GeneratorState.from_bytes(state.to_bytes())  # the same history each time
        return greedy.step_logits(restored, condition, 1, seed=0)[2][0]

    pure_calm, pure_battle = one_step(calm), one_step(battle)
    # uncond + sum w g (c - uncond) is linear in the weights when the histories agree.
    for weight in (0.25, 0.5):
        ramp = Blend(calm, battle, start=f - round(weight * 8), end=f - round(weight * 8) + 8)
        np.testing.assert_allclose(
            one_step(ramp), (1 - weight) * pure_calm + weight * pure_battle, rtol=1e-5, atol=1e-4
        )
    np.testing.assert_allclose(one_step(Blend(calm, battle, start=f + 1, end=f + 9)), pure_calm, atol=1e-5)
    np.testing.assert_allclose(one_step(Blend(calm, battle, start=f - 9, end=f)), pure_battle, atol=1e-5)


def test_a_ramp_is_exact_per_step_across_call_splits(greedy):
    ramp = Blend(greedy.condition(CALM), greedy.condition(BATTLE), start=6, end=22)
    whole, _, whole_logits = greedy.step_logits(greedy.initial_state(), ramp, 30, seed=4)
    first, state, logits_a = greedy.step_logits(greedy.initial_state(), ramp, 13, seed=4)
    second, _, logits_b = greedy.step_logits(state, ramp, 17, seed=4)
    assert len(logits_a) + len(logits_b) == len(whole_logits)
    for ours, reference in zip(logits_a + logits_b, whole_logits):
        np.testing.assert_array_equal(ours, reference)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)


@pytest.mark.parametrize("channels, books", [(1, 4), (2, 8)])
def test_delay_pattern_is_undone_exactly(channels, books):
    from adaptive_music.models.musicgen.delay import apply_delay, codebook_delays, undo_delay

    delays = codebook_delays(books, channels)
    codes = np.random.default_rng(0).integers(0, 2048, (9, books))
    delayed = apply_delay(codes, delays, pad=2048)
    assert delayed.shape == (9 + max(delays) + 1, books)
    assert (delayed[0] == 2048).all()  # the start token
    for k, d in enumerate(delays):
        assert (delayed[1 : d + 1, k] == 2048).all() and delayed[d + 1, k] == codes[0, k]
    np.testing.assert_array_equal(undo_delay(delayed, delays), codes)


def test_mono_checkpoint_streams_as_48k_stereo_with_both_channels_equal(sampled):
    from adaptive_music.engine.stream import render

    result = render(sampled, CALM, 1.5, seed=0)
    assert result.sample_rate == 48000 and result.audio.shape == (72000, 2)
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0
    np.testing.assert_array_equal(result.audio[:, 0], result.audio[:, 1])


def test_decoder_attention_runs_without_cudnn(greedy, monkeypatch):
    # cuDNN's attention builds a graph per new key length, and every decoding step has a new
    # one: on an H200 that made musicgen-small 0.54x real time (bench/RESULTS.md, GPU). The
    # cost itself needs a GPU to show; here, what torch is allowed to pick in each call.
    import torch
    import torch.nn.functional as F

    allowed, attend = [], F.scaled_dot_product_attention

    def recording(*args, **kwargs):
        allowed.append(torch.backends.cuda.cudnn_sdp_enabled())
        return attend(*args, **kwargs)

    condition = greedy.condition(CALM)
    greedy.generate(greedy.initial_state(), condition, 1, seed=0)  # encodes the text (once, fixed shapes)
    monkeypatch.setattr(F, "scaled_dot_product_attention", recording)
    greedy.generate(greedy.initial_state(), condition, 5, seed=0)
    assert allowed and not any(allowed)
    assert torch.backends.cuda.cudnn_sdp_enabled()  # the rest of the process keeps torch's choice
