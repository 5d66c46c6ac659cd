"""Our decoding loop against transformers' MusicgenForConditionalGeneration.generate."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from adaptive_music.models.base import Mood
from adaptive_music.models.musicgen import MusicgenModel, SamplingParams, encode_prompt_audio
from musicgen_tiny import build_tiny_musicgen

TEXT = "dark ambient dungeon"
FRAMES = 24


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("musicgen")
    return {
        "mono": build_tiny_musicgen(root / "mono"),
        "stereo": build_tiny_musicgen(root / "stereo", stereo=True, seed=1),
    }


def greedy(path, guidance: float) -> MusicgenModel:
    return MusicgenModel.load(str(path), sampling=SamplingParams(guidance=guidance, temperature=0.0))


def transformers_codes(model: MusicgenModel, frames: int, **inputs) -> np.ndarray:
    """Codes (frames, K) that generate() hands to EnCodec, prompt included.

    generate() pads every codebook's lookahead with its end token over its last
    ``max_delay`` steps, which a stream never does, so it is asked for ``max_delay``
    extra frames and those are dropped.
    """
    hf = model.hf
    captured = []
    decode = hf.audio_encoder.decode

    def capture(codes, *args, **kwargs):
        captured.append(codes[0, 0].clone())
        return decode(codes, *args, **kwargs)

    hf.audio_encoder.decode = capture
    try:
        text = model.decoder.tokenizer([TEXT], return_tensors="pt")
        hf.generate(
            **text, **inputs, do_sample=False, guidance_scale=model.sampling.guidance,
            max_new_tokens=frames + 2 * model.max_delay,
        )
    finally:
        hf.audio_encoder.decode = decode
    if model.channels == 2:  # generate decodes left and right codebooks separately
        left, right = captured
        books = torch.stack([left, right], dim=1).reshape(-1, left.shape[-1])
    else:
        (books,) = captured
    return books.T.numpy()


@pytest.mark.parametrize("kind", ["mono", "stereo"])
@pytest.mark.parametrize("guidance", [1.0, 3.0])
@pytest.mark.parametrize("prompt_frames", [0, 7])
def test_greedy_codes_equal_transformers_generate(checkpoints, kind, guidance, prompt_frames):
    model = greedy(checkpoints[kind], guidance)
    prompt = np.random.default_rng(prompt_frames).integers(0, 64, (prompt_frames, model.num_codebooks))
    inputs = {}
    if prompt_frames:
        inputs["decoder_input_ids"] = torch.as_tensor(prompt.T.copy())  # (B*K, T), undelayed
    expected = transformers_codes(model, FRAMES, **inputs)[: prompt_frames + FRAMES]

    tokens, state = model.generate(
        model.initial_state_from_codes(prompt), model.condition(Mood(TEXT)), FRAMES, seed=0
    )
    np.testing.assert_array_equal(state.tokens, expected)
    np.testing.assert_array_equal(tokens, expected[prompt_frames:])
    np.testing.assert_array_equal(state.tokens[:prompt_frames], prompt)


def test_guidance_changes_the_codes(checkpoints):
    """The equivalence above would be vacuous if guidance did nothing on the tiny model."""
    codes = []
    for guidance in (1.0, 3.0):
        model = greedy(checkpoints["mono"], guidance)
        codes.append(model.generate(model.initial_state(), model.condition(Mood(TEXT)), FRAMES, 0)[0])
    assert (codes[0] != codes[1]).any()


def test_continuation_from_codes_equals_continuation_from_their_waveform(checkpoints, tmp_path):
    """Codes read from a WAV by encode_prompt_audio continue exactly like generate()
    continuing the waveform itself (which encodes it with EnCodec internally)."""
    model = greedy(checkpoints["mono"], 3.0)
    t = np.arange(int(0.4 * 32000)) / 32000
    wave = (0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 331 * t)).astype(np.float32)
    path = tmp_path / "prompt.wav"
    soundfile.write(path, wave, 32000, subtype="FLOAT")

    codes = encode_prompt_audio(model, path, max_seconds=10.0)
    assert codes.shape == (20, model.num_codebooks)
    expected = transformers_codes(model, FRAMES, input_values=torch.as_tensor(wave)[None, None])
    np.testing.assert_array_equal(codes, expected[:20])

    _, state = model.generate(
        model.initial_state_from_codes(codes), model.condition(Mood(TEXT)), FRAMES, seed=0
    )
    np.testing.assert_array_equal(state.tokens, expected[: 20 + FRAMES])
