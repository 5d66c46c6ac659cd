"""Spectral balance measures for comparing renders with produced music.

Three views of a long-term spectrum, numpy only:

- :func:`spectral_contrast`: the standard 7-band octave spectral contrast
  (Jiang et al. 2002, as librosa defines it: peak and valley are the means
  of the top and bottom 2 % of magnitudes in each band, per frame, in dB).
  A synthesizer's clean partials with empty valleys read high; recorded
  sections and rooms fill the valleys and read lower.
- :func:`band_share_db`: one band's share of the total energy, in dB.
- :func:`octave_balance_db`: energy per octave band relative to the total,
  for comparing the balance of two pieces of music band by band.
"""

from __future__ import annotations

import numpy as np

CONTRAST_EDGES = (0.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 11025.0)
"""Band edges of the 7-band contrast. The top band stops at 11.025 kHz, the
Nyquist frequency of librosa's default 22.05 kHz analysis, so figures stay
comparable with librosa's whatever the file's rate."""

OCTAVE_CENTRES = (63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
"""Octave-band centres (Hz) of :func:`octave_balance_db`."""

_QUANTILE = 0.02


def _mono(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError("audio must be a non-empty (samples,) or (samples, channels) array")
    return x


def _frames(audio: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """STFT magnitudes (frames, bins) with ~93 ms Hann windows, 75 % overlap, and bin frequencies.

    The window is librosa's 2048 samples at 22.05 kHz, scaled to the rate, so
    the frequency resolution (and with it the contrast) matches its figures.
    """
    x = _mono(audio)
    n_fft = 1 << int(round(np.log2(2048 * sample_rate / 22050.0)))
    hop = n_fft // 4
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    windows = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    hann = np.hanning(n_fft)
    mags = np.concatenate([np.abs(np.fft.rfft(windows[i : i + 512] * hann, axis=1))
                           for i in range(0, len(windows), 512)])
    return mags, np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def spectral_contrast(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """Mean spectral contrast (dB) of the 7 octave bands in :data:`CONTRAST_EDGES`.

    Frames that are silent in a band are left out of that band's mean.
    """
    mags, freqs = _frames(audio, sample_rate)
    out = np.full(len(CONTRAST_EDGES) - 1, np.nan)
    for k, (lo, hi) in enumerate(zip(CONTRAST_EDGES[:-1], CONTRAST_EDGES[1:])):
        band = mags[:, (freqs >= lo) & (freqs < hi)]
        count = max(1, int(round(_QUANTILE * band.shape[1])))
        ordered = np.sort(band, axis=1)
        valley = ordered[:, :count].mean(axis=1)
        peak = ordered[:, -count:].mean(axis=1)
        sounding = peak > 1e-6 * max(float(mags.max()), 1e-12)
        if sounding.any():
            floor = 1e-10
            contrast = 10 * np.log10(np.maximum(peak, floor)) - 10 * np.log10(np.maximum(valley, floor))
            out[k] = float(contrast[sounding].mean())
    return out


def _power_spectrum(audio: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    mags, freqs = _frames(audio, sample_rate)
    power = (mags ** 2).mean(axis=0)
    if power.sum() <= 0:
        raise ValueError("silent audio has no spectral balance")
    return power, freqs


def band_share_db(audio: np.ndarray, sample_rate: float, lo: float = 2000.0, hi: float = 4000.0) -> float:
    """Energy in [lo, hi) Hz relative to the whole signal's, in dB."""
    return power_share_db(*_power_spectrum(audio, sample_rate), lo, hi)


def power_share_db(power: np.ndarray, freqs: np.ndarray, lo: float = 2000.0, hi: float = 4000.0) -> float:
    """The share of a power spectrum (``power`` at ``freqs`` Hz) in [lo, hi) Hz, in dB."""
    return float(10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / max(power.sum(), 1e-30) + 1e-30))


def octave_balance_db(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """Energy of each octave band in :data:`OCTAVE_CENTRES` relative to their sum, in dB."""
    power, freqs = _power_spectrum(audio, sample_rate)
    bands = np.array([power[(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2))].sum() for c in OCTAVE_CENTRES])
    return 10 * np.log10(np.maximum(bands, 1e-30) / bands.sum())
