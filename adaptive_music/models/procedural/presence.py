"""The channel EQ's presence band, the same for both renderers.

A one-octave peaking bell at 2.8 kHz (RBJ cookbook) cuts or lifts a voice's
2-4 kHz share, where a mix's presence and harshness live, toward what the
mood's brightness asks for (:func:`target_db`). A producer sets it once per
track, not per note: the gain is found from a note in each octave the voice
plays (G2 to G5, :data:`PROBE_KEYS`), so its low notes stay darker than its
high ones, as they sound.
"""

from __future__ import annotations

import numpy as np

from ...audio.timbre import power_share_db

CENTRE_HZ, Q = 2828.0, 1.41  # centred on 2-4 kHz, one octave wide
GAIN_RANGE_DB = (-18.0, 6.0)  # cut as far as a dull mix needs; boost no more than a producer would
PROBE_KEYS = (43, 55, 67, 79)


def target_db(brightness: int) -> float:
    """The 2-4 kHz share (dB) a voice is brought to, for a brightness of 0..7: -22 dB (dark)
    to -15 dB (bright), where produced tracks sit (-23 to -14 dB, the energetic ones -19
    to -17)."""
    return -22.0 + 1.0 * brightness


def coefficients(gain_db: float, sample_rate: int) -> np.ndarray:
    """The bell as one second-order section (b0 b1 b2 a0 a1 a2, a0 = 1), shaped (1, 6) for
    :func:`scipy.signal.sosfilt`."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * CENTRE_HZ / sample_rate
    alpha = np.sin(w0) / (2 * Q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def response(gain_db: float, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """The bell's magnitude response at ``freqs`` (Hz)."""
    sos = coefficients(gain_db, sample_rate)[0]
    z = np.exp(-1j * 2 * np.pi * np.asarray(freqs, np.float64) / sample_rate)
    return np.abs((sos[0] + sos[1] * z + sos[2] * z * z) / (sos[3] + sos[4] * z + sos[5] * z * z))


def gain_db(power: np.ndarray, freqs: np.ndarray, sample_rate: int, target: float) -> float:
    """The bell's gain (dB) that brings the 2-4 kHz share of a power spectrum (a voice's probe
    notes, each at the same level, summed) to ``target``, bisected over :data:`GAIN_RANGE_DB`."""

    def share(gain: float) -> float:
        return power_share_db(power * response(gain, freqs, sample_rate) ** 2, freqs)

    lo, hi = GAIN_RANGE_DB
    if share(lo) >= target:
        return lo
    if share(hi) <= target:
        return hi
    for _ in range(12):  # to within 0.01 dB
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if share(mid) < target else (lo, mid)
    return round(0.5 * (lo + hi), 2)
