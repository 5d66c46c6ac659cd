"""MusicGen-melody: our chroma against the feature extractor's definition, and our decoding
loop against transformers' MusicgenMelodyForConditionalGeneration.generate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from adaptive_music.models.base import Mood
from adaptive_music.models.musicgen import MusicgenModel, SamplingParams
from adaptive_music.models.musicgen.chroma import HOP_LENGTH, N_FFT, chromagram, melody_chroma, read_melody
from musicgen_tiny import build_family
from test_musicgen_equivalence import FRAMES, TEXT, transformers_codes

SR = 32000


def extractor_chroma(audio: np.ndarray) -> torch.Tensor:
    """MusicgenMelodyFeatureExtractor._torch_extract_fbank_features, step by step, with
    torchaudio's Spectrogram(n_fft, win_length=n_fft, hop_length, power=2, center=True,
    normalized=True) written out as the torch.stft call it makes: normalised chroma
    (frames, 12) before the one-hot step, float32 as the extractor computes it."""
    from transformers.audio_utils import chroma_filter_bank

    wave = torch.as_tensor(audio, dtype=torch.float32)[None]
    if wave.shape[-1] < N_FFT:
        pad = N_FFT - wave.shape[-1]
        wave = torch.nn.functional.pad(wave, (pad // 2, pad // 2 + pad % 2))
    window = torch.hann_window(N_FFT)
    spec = torch.stft(wave, N_FFT, hop_length=HOP_LENGTH, win_length=N_FFT, window=window, center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    spec = (spec / window.pow(2.0).sum().sqrt()).abs().pow(2.0)
    filters = torch.from_numpy(chroma_filter_bank(num_frequency_bins=N_FFT, num_chroma=12, sampling_rate=SR,
                                                  tuning=0)).float()
    raw = torch.einsum("cf,...ft->...ct", filters, spec)
    return torch.nn.functional.normalize(raw, p=float("inf"), dim=-2, eps=1e-6)[0].T


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def real_recording() -> Path:
    immich = pytest.importorskip("immich_memories_music")
    return Path(immich.__file__).parent / "tracks" / "happy" / "happy_acoustic_1.opus"


# -- chroma ----------------------------------------------------------------------


def test_chroma_of_known_notes():
    """A4 (440 Hz) then C5 (523.25 Hz): pitch classes 9 then 0 (C is bin 0), one per frame
    at 32000 / 4096 frames a second, centred frames included."""
    audio = np.concatenate([tone(440.0, 2.0), tone(523.25, 2.0)])
    chroma = melody_chroma(audio)
    assert chroma.shape == (1 + len(audio) // HOP_LENGTH, 12) and chroma.dtype == np.float32
    assert (chroma.sum(axis=1) == 1).all()
    notes = chroma.argmax(axis=1)
    assert (notes[2:13] == 9).all() and (notes[-13:-2] == 0).all()
    # Silence has no pitch: every bin is 0 over the 1e-6 floor, so bin 0 (the null chroma).
    assert (melody_chroma(np.zeros(SR, np.float32)).argmax(axis=1) == 0).all()


@pytest.mark.parametrize("seconds", [0.3, 4.0])  # shorter than one FFT (padded), and longer
def test_chroma_equals_the_extractor_definition_on_a_real_recording(seconds):
    audio, rate = soundfile.read(real_recording(), dtype="float32", always_2d=True)
    assert rate == 48000
    from adaptive_music.models.musicgen.codec import resample

    mono = resample(audio.mean(axis=1, keepdims=True), rate, SR)[int(10 * SR) : int((10 + seconds) * SR), 0]
    ours = chromagram(mono)
    reference = extractor_chroma(mono).numpy()
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=2e-4)
    # The one-hot step agrees wherever the top bin is not a float32 near-tie.
    top2 = np.sort(reference, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(ours.argmax(axis=1)[clear], reference.argmax(axis=1)[clear])


def test_read_melody_keeps_the_first_30_seconds(tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(path, np.concatenate([tone(440.0, 30.0), tone(523.25, 5.0)]), SR)
    chroma = read_melody(path)
    assert chroma.shape == (1 + 30 * SR // HOP_LENGTH, 12)
    assert (chroma.argmax(axis=1)[2:-2] == 9).all()


# -- the decoding loop -----------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_family(tmp_path_factory.mktemp("melody") / "melody", "melody")


@pytest.fixture(scope="module")
def theme() -> np.ndarray:
    """A real theme's chroma: 6 s of a recording (47 frames, tiled to 235 by the model)."""
    return read_melody_part(real_recording(), 6.0)


def read_melody_part(path: Path, seconds: float) -> np.ndarray:
    from adaptive_music.models.musicgen.codec import read_audio

    return melody_chroma(read_audio(path, SR, 1, seconds, keep="start", what="melody")[:, 0])


def greedy(checkpoint, guidance: float, melody: np.ndarray | None) -> MusicgenModel:
    from adaptive_music.models.musicgen.loading import load_checkpoint

    hf, tokenizer = load_checkpoint(str(checkpoint), torch.device("cpu"), torch.float32)
    return MusicgenModel(hf, tokenizer, sampling=SamplingParams(guidance=guidance, temperature=0.0), melody=melody)


@pytest.mark.parametrize("with_theme", [True, False], ids=["theme", "no-theme"])
@pytest.mark.parametrize("guidance", [1.0, 3.0])
@pytest.mark.parametrize("prompt_frames", [0, 7])
def test_greedy_codes_equal_transformers_generate(checkpoint, theme, with_theme, guidance, prompt_frames):
    melody = theme if with_theme else None
    model = greedy(checkpoint, guidance, melody)
    assert model.melodic and model.channels == 1
    prompt = np.random.default_rng(prompt_frames).integers(0, 2048, (prompt_frames, model.num_codebooks))
    inputs = {}
    if prompt_frames:
        inputs["decoder_input_ids"] = torch.as_tensor(prompt.T.copy())
    if melody is not None:
        inputs["input_features"] = torch.as_tensor(melody)[None]
    expected = transformers_codes(model, FRAMES, **inputs)[: prompt_frames + FRAMES]

    tokens, state = model.generate(model.initial_state_from_codes(prompt), model.condition(Mood(TEXT)), FRAMES, 0)
    np.testing.assert_array_equal(state.tokens, expected)
    np.testing.assert_array_equal(tokens, expected[prompt_frames:])


def test_the_theme_and_the_text_both_steer_the_codes(checkpoint, theme):
    """The equivalence above would be vacuous if either condition did nothing."""
    other = read_melody_part(Path(real_recording()).parent.parent / "calm" / "calm_acoustic_1.opus", 6.0)

    def codes(melody, text):
        model = greedy(checkpoint, 3.0, melody)
        return model.generate(model.initial_state(), model.condition(Mood(text)), FRAMES, 0)[0]

    base = codes(theme, TEXT)
    assert (base != codes(other, TEXT)).any()
    assert (base != codes(theme, "epic battle drums")).any()


def test_a_longer_text_mid_stream_makes_room_in_the_prefix(checkpoint, theme):
    """A mood whose text is longer than the prefix holds continues from the same music."""
    model = greedy(checkpoint, 3.0, theme)
    short, long = model.condition(Mood("calm")), model.condition(Mood("epic battle drums boss fight night"))
    _, state = model.generate(model.initial_state(), short, 10, 0)
    prefix = model.decoder.prefix
    tokens, after = model.generate(state, long, 10, 0)
    assert model.decoder.prefix > prefix and tokens.shape == (10, 4)
    np.testing.assert_array_equal(after.tokens[:10], state.tokens)
    # The long text alone from the start gives the same prefix a fresh cache would.
    fresh = greedy(checkpoint, 3.0, theme)
    fresh.generate(fresh.initial_state(), long, 1, 0)
    assert fresh.decoder.prefix == model.decoder.prefix


def test_a_melody_on_a_text_only_checkpoint_is_refused(tmp_path):
    from adaptive_music.models.musicgen import MusicgenLoadError

    mono = build_family(tmp_path / "mono", "mono")
    path = tmp_path / "theme.wav"
    soundfile.write(path, tone(440.0, 1.0), SR)
    with pytest.raises(MusicgenLoadError, match="needs a MusicGen-melody checkpoint"):
        MusicgenModel.load(str(mono), melody=path)


def test_cli_bad_melody_is_one_line_exit_2(checkpoint, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out.wav"
    result = subprocess.run(
        [sys.executable, "-m", "adaptive_music.cli.main", "render", "--backend", "musicgen", "--model",
         str(checkpoint), "--melody", str(tmp_path / "missing.ogg"), "--mood", "calm", "--seconds", "1",
         "-o", str(out)], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert result.returncode == 2 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"adaptive-music render: error: cannot read melody {tmp_path}")
