"""Loading checkpoints, decoding codes, and audio prompts: the happy paths and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from adaptive_music.models.base import Mood
from adaptive_music.models.musicgen import (
    AudioPromptError,
    MusicgenLoadError,
    MusicgenModel,
    SamplingParams,
    encode_prompt_audio,
    measure_rtf,
)
from musicgen_tiny import build_tiny_musicgen, tiny_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen") / "mono")


@pytest.fixture(scope="module")
def model(checkpoint):
    return MusicgenModel.load(str(checkpoint), sampling=SamplingParams(top_k=20))


def copy_without(checkpoint: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "partial"
    shutil.copytree(checkpoint, folder)
    (folder / name).unlink()
    return folder


# -- loading -----------------------------------------------------------------


def test_load_picks_cpu_float32_here(model):
    assert model.device.type == "cpu" and model.decoder.dtype == torch.float32
    assert (model.sample_rate, model.frame_rate, model.channels, model.num_codebooks) == (32000, 50.0, 1, 4)


def test_stereo_checkpoint_loads_with_two_channels(tmp_path):
    stereo = MusicgenModel.load(str(build_tiny_musicgen(tmp_path / "stereo", stereo=True)))
    assert (stereo.channels, stereo.num_codebooks, stereo.delays) == (2, 8, (0, 0, 1, 1, 2, 2, 3, 3))
    tokens, _ = stereo.generate(stereo.initial_state(), stereo.condition(Mood("epic")), 6, seed=0)
    audio = stereo.decode(tokens, stereo.initial_state())
    assert audio.shape == (6 * 640, 2) and audio.dtype == np.float32


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(MusicgenLoadError, match="does not exist"):
        MusicgenModel.load(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json"])
def test_partial_folder_names_the_missing_file(checkpoint, tmp_path, name):
    with pytest.raises(MusicgenLoadError, match=name.replace(".", r"\.")):
        MusicgenModel.load(str(copy_without(checkpoint, tmp_path, name)))


def test_missing_shard_is_named(checkpoint, tmp_path):
    folder = copy_without(checkpoint, tmp_path, "model.safetensors")
    index = {"metadata": {}, "weight_map": {"decoder.lm_heads.0.weight": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(MusicgenLoadError, match="model-00002-of-00002.safetensors is missing"):
        MusicgenModel.load(str(folder))


def test_non_musicgen_checkpoint_is_rejected_with_its_type(tmp_path):
    from transformers import T5EncoderModel

    T5EncoderModel(tiny_config().text_encoder).save_pretrained(tmp_path / "t5")
    with pytest.raises(MusicgenLoadError, match="'t5' checkpoint, not MusicGen"):
        MusicgenModel.load(str(tmp_path / "t5"))


def test_offline_without_cache_says_how_to_download(tmp_path):
    """HF_HUB_OFFLINE is read when huggingface_hub is imported, hence a fresh interpreter."""
    code = (
        "from adaptive_music.models.musicgen import MusicgenModel, MusicgenLoadError\n"
        "try:\n    MusicgenModel.load('facebook/musicgen-small')\n"
        "except MusicgenLoadError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "HF_HUB_OFFLINE" in out.stdout
    assert "hf download facebook/musicgen-small" in out.stdout


# -- decoding ----------------------------------------------------------------


def test_decode_returns_the_audio_of_new_tokens_after_left_context(model):
    condition = model.condition(Mood("calm forest"))
    first, state = model.generate(model.initial_state(), condition, 30, seed=0)
    second, _ = model.generate(state, condition, 10, seed=1)
    audio = model.decode(second, state)
    assert audio.shape == (10 * 640, 1) and audio.dtype == np.float32 and np.isfinite(audio).all()
    whole = model.decode(np.concatenate([first, second]), model.initial_state())
    np.testing.assert_allclose(audio, whole[30 * 640 :], atol=1e-5)
    assert model.decode(second[:0], state).shape == (0, 1)


# -- audio prompts -----------------------------------------------------------


def test_prompt_audio_is_resampled_mixed_and_trimmed(model, tmp_path):
    rate = 44100
    t = np.arange(3 * rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 200 * t), np.sin(2 * np.pi * 300 * t)], axis=1) * 0.3
    path = tmp_path / "prompt.wav"
    soundfile.write(path, stereo.astype(np.float32), rate)
    codes = encode_prompt_audio(model, path, max_seconds=1.5)
    assert codes.shape == (75, 4) and codes.dtype == np.int64
    assert codes.min() >= 0 and codes.max() < 64
    _, state = model.generate(model.initial_state_from_codes(codes), model.condition(Mood("calm")), 5, 0)
    np.testing.assert_array_equal(state.tokens[:75], codes)


def test_prompt_audio_reads_ogg(model, tmp_path):
    path = tmp_path / "prompt.ogg"
    soundfile.write(path, (0.2 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32), 32000,
                    format="OGG", subtype="VORBIS")
    assert encode_prompt_audio(model, path, max_seconds=10).shape == (50, 4)


def test_unreadable_prompt_audio_is_rejected(model, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")
    with pytest.raises(AudioPromptError, match="cannot read audio prompt"):
        encode_prompt_audio(model, path, max_seconds=5)
    with pytest.raises(AudioPromptError, match="cannot read audio prompt"):
        encode_prompt_audio(model, tmp_path / "missing.wav", max_seconds=5)


@pytest.mark.parametrize("samples", [0, 100])
def test_empty_or_too_short_prompt_audio_is_rejected(model, tmp_path, samples):
    path = tmp_path / "short.wav"
    soundfile.write(path, np.zeros(samples, np.float32), 32000)
    with pytest.raises(AudioPromptError, match="holds no audio|shorter than one frame"):
        encode_prompt_audio(model, path, max_seconds=5)


def test_bad_prompt_codes_are_rejected(model):
    with pytest.raises(ValueError, match="shape"):
        model.initial_state_from_codes(np.zeros((5, 3), np.int64))
    with pytest.raises(ValueError, match="lie in"):
        model.initial_state_from_codes(np.full((5, 4), 64, np.int64))


# -- slow hardware -----------------------------------------------------------


def test_measure_rtf_times_hops_of_generation_and_decoding(model):
    config = model.default_config().replace(hop_seconds=0.1, crossfade_seconds=0.02)
    rtf = measure_rtf(model, config, seconds=0.5)
    assert np.isfinite(rtf) and rtf > 0
