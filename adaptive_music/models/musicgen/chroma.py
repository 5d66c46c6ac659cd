"""The melody condition of MusicGen-melody: a theme's chromagram, computed in numpy.

transformers' ``MusicgenMelodyFeatureExtractor`` needs torchaudio, which must stay out
of the environment (it breaks transformers' imports against a CPU torch). This is its
definition, step by step, on numpy: the first 30 s of mono audio at 32 kHz; zero-padded
symmetrically to one FFT if shorter; a centred (reflect-padded) STFT with a periodic
Hann window of ``n_fft``, hop ``hop_length``, normalised by the window's energy
(torchaudio's ``normalized=True``); the power spectrum folded onto 12 pitch classes by
``transformers.audio_utils.chroma_filter_bank`` (C first, tuning 0); each frame divided
by its largest bin (at least 1e-6); and the largest bin set to 1, the rest to 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 32000
N_FFT = 16384
HOP_LENGTH = 4096
NUM_CHROMA = 12
MAX_SECONDS = 30.0


def chromagram(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, n_fft: int = N_FFT,
               hop_length: int = HOP_LENGTH, num_chroma: int = NUM_CHROMA) -> np.ndarray:
    """Normalised chroma (frames, num_chroma) of mono ``audio`` (samples,): each frame's
    pitch-class energies over its largest one."""
    from transformers.audio_utils import chroma_filter_bank

    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if len(x) < n_fft:
        pad = n_fft - len(x)
        x = np.pad(x, (pad // 2, pad - pad // 2))
    x = np.pad(x, n_fft // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length]
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2 / np.sum(window**2)
    filters = chroma_filter_bank(num_frequency_bins=n_fft, num_chroma=num_chroma, sampling_rate=sample_rate,
                                 tuning=0)
    raw = power @ filters.T  # (frames, chroma)
    return raw / np.maximum(raw.max(axis=1, keepdims=True), 1e-6)


def melody_chroma(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The model's melody input for mono ``audio``: one-hot chroma (frames, 12), float32,
    of its first 30 s."""
    normalised = chromagram(audio[: int(MAX_SECONDS * sample_rate)], sample_rate)
    onehot = np.zeros_like(normalised, dtype=np.float32)
    onehot[np.arange(len(normalised)), normalised.argmax(axis=1)] = 1.0
    return onehot


def read_melody(path: str | Path) -> np.ndarray:
    """One-hot chroma of the first 30 s of an audio file (WAV/OGG/FLAC/Opus), mixed to mono
    and resampled to 32 kHz. Raises AudioPromptError for unreadable or empty files."""
    from .codec import read_audio

    audio = read_audio(path, SAMPLE_RATE, channels=1, max_seconds=MAX_SECONDS, keep="start", what="melody")
    return melody_chroma(audio[:, 0])
