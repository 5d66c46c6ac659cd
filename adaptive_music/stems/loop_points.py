"""Loop points in a longer piece of music: a bar-aligned start whose loop end sounds
most like it, and the loop cut there with the music that followed its end
crossfaded into its start, so that the wrap goes on as the music went on.

Used for backends with no score to fold (MusicGen): the music is generated
longer than the loop, and the loop is chosen in it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..engine.seams import stitch

_FEATURE_FFT, _FEATURE_HOP_SECONDS = 2048, 0.01
_ONSET_FFT, _ONSET_HOP_SECONDS = 512, 0.0025


@dataclasses.dataclass(frozen=True)
class LoopChoice:
    start: int
    """First sample of the loop in the music it was cut from."""
    similarity: float
    """Cosine similarity of the log spectra around the loop's start and around its end (1 = the same)."""
    candidates: int
    """Bar lines that were compared."""


def _log_spectra(audio: np.ndarray, sample_rate: int, fft: int, hop_seconds: float) -> tuple[np.ndarray, int]:
    """(log-magnitude frames, hop in samples) of the mono mix; frame i starts at sample i * hop."""
    hop = max(1, round(hop_seconds * sample_rate))
    mono = np.concatenate([audio.mean(axis=1), np.zeros(fft)])
    windows = np.lib.stride_tricks.sliding_window_view(mono, fft)[::hop]
    return np.log1p(100.0 * np.abs(np.fft.rfft(windows * np.hanning(fft), axis=1))), hop


def bar_phase(audio: np.ndarray, sample_rate: int, bar_samples: int) -> int:
    """Offset (0 .. bar_samples) of the bar grid whose lines fall on the strongest onsets
    (spectral flux on short windows, each placed at its window's centre)."""
    spectra, hop = _log_spectra(audio, sample_rate, _ONSET_FFT, _ONSET_HOP_SECONDS)
    flux = np.maximum(np.diff(spectra, axis=0), 0.0).mean(axis=1)  # flux[i]: the rise into frame i + 1
    per_bar = bar_samples / hop
    scores = []
    for j in range(max(1, int(per_bar))):
        lines = np.round(j + np.arange(0, len(flux) - j, per_bar)).astype(int)
        scores.append(float(flux[lines[lines < len(flux)]].mean()))
    best = int(np.argmax(scores))
    return ((best + 1) * hop + _ONSET_FFT // 2) % bar_samples


def after_loop(bar_samples: int, crossfade: int) -> int:
    """Samples the music must go on after a loop's end for :func:`find_loop` to compare it there."""
    return crossfade + bar_samples // 4 + _FEATURE_FFT


def find_loop(audio: np.ndarray, sample_rate: int, bar_samples: int, loop_samples: int, crossfade: int,
              earliest: int) -> LoopChoice:
    """The loop of ``loop_samples`` (whole bars) in ``audio`` that starts on a bar line at or after
    ``earliest`` and whose end sounds most like its start: the log spectra over the crossfade and the
    beat after it (a quarter bar) are compared at both places, so the music must go on that long after
    the loop's end. The grid's phase is :func:`bar_phase`'s."""
    phase = bar_phase(audio, sample_rate, bar_samples)
    first = phase + max(0, math.ceil((earliest - phase) / bar_samples)) * bar_samples
    spectra, hop = _log_spectra(audio, sample_rate, _FEATURE_FFT, _FEATURE_HOP_SECONDS)
    span = max(2, math.ceil((crossfade + bar_samples // 4) / hop))
    last = len(audio) - after_loop(bar_samples, crossfade) - loop_samples
    starts = list(range(first, last + 1, bar_samples))
    if not starts:
        raise ValueError(f"{len(audio)} samples hold no loop of {loop_samples} (and a beat after it) "
                         f"starting at or after {earliest}")

    def around(sample: int) -> np.ndarray:
        i = sample // hop
        return spectra[i : i + span].ravel()

    scores = []
    for s in starts:
        a, b = around(s), around(s + loop_samples)
        scores.append(float(a @ b / max(1e-12, np.linalg.norm(a) * np.linalg.norm(b))))
    best = int(np.argmax(scores))
    return LoopChoice(starts[best], scores[best], len(starts))


def cut_loop(audio: np.ndarray, start: int, length: int, crossfade: int) -> np.ndarray:
    """``audio[start : start + length]`` with the ``crossfade`` samples that followed its end faded
    out over its start (the engine's seam crossfade), so its last sample leads on into its first as it
    did in ``audio``."""
    loop = np.array(audio[start : start + length], np.float32)
    after = audio[start + length : start + length + crossfade]
    if len(loop) != length or len(after) != crossfade:
        raise ValueError(f"the music ends before the loop's end and its {crossfade}-sample crossfade")
    loop[:crossfade] = stitch(np.asarray(after, np.float32), loop[:crossfade])
    return loop


__all__ = ["LoopChoice", "after_loop", "bar_phase", "cut_loop", "find_loop"]
