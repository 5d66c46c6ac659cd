"""A feedback-delay-network reverb whose depth and length follow the mood."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..base import Blend

# Delays in samples at 48 kHz (scaled for other rates), 41-74 ms, in an arithmetic
# progression so that every line's write lands in one strided view (one numpy call).
# Each exceeds two frames, so a whole hop runs in few vectorised chunks.
_DELAY0, _DELAY_STEP = 1973, 224
_IN_GAINS = 0.35 * np.array([1, -1, 1, -1, 1, 1, -1, -1], np.float32)[:, None]
_OUT_L = np.array([1, 1, -1, 1, -1, 1, 1, -1], np.float32) / np.sqrt(8)
_OUT_R = np.array([1, -1, 1, 1, 1, -1, 1, 1], np.float32) / np.sqrt(8)


class Reverb:
    """An 8-line FDN with a Householder mix and gentle damping in the loop.

    The network runs at half the sample rate (a reverb tail holds little
    above a quarter of the rate) in chunks shorter than the shortest delay,
    so each chunk's feedback reads only the past and runs vectorised. The
    mood sets, per frame, (level, wet, seconds to decay 60 dB) through
    ``space(condition, frame)``: level scales dry and wet together, as a
    reverb unit's output level does. Every sample's arithmetic is fixed by
    its frame, so the result does not depend on how the stream is cut into
    calls.
    """

    def __init__(self, sample_rate: int, samples_per_frame: int, channels: int,
                 space: Callable[[Any, float], tuple[float, float, float]]):
        if samples_per_frame % 2:
            raise ValueError("the reverb needs an even number of samples per frame")
        self.frame = samples_per_frame
        self.channels = channels
        self.space = space
        self.rate = sample_rate // 2
        self._half_frame = samples_per_frame // 2
        step = round(_DELAY_STEP * self.rate / 48000)
        self.delays = round(_DELAY0 * self.rate / 48000) + step * np.arange(8)
        self.chunk = int(self.delays[0]) - 1
        # One flat buffer, a row of `row` samples per line. Line k writes its
        # output d_k ahead of the shared read position r, so reads of every
        # line are one 2-D slice and writes one strided view.
        self._row = 1 << 14
        self._flat = np.zeros(8 * self._row, np.float32)
        self._buf = self._flat.reshape(8, self._row)
        self._step = int(step)
        self._read = 1  # one sample of history before it feeds the 2-tap average
        self._out = np.stack([_OUT_L, _OUT_R])
        self._prev: np.ndarray | None = None
        self._last_wet = np.zeros((2, 1), np.float32)

    def process(self, audio: np.ndarray, condition: Any, frame: int) -> np.ndarray:
        """Add the reverb to whole frames of audio starting at absolute ``frame``."""
        n_frames = len(audio) // self.frame
        levels = np.empty((2, n_frames), np.float32)  # dry, wet
        gains = np.empty((8, n_frames), np.float32)
        last = None
        steady = not isinstance(condition, Blend)  # no ramp: one shape for the whole call
        for i in range(n_frames):
            shape = last if steady and last else self.space(condition, frame + i)
            if shape != last:  # the mood holds still most of the time
                level, wet, t60 = last = shape
                g = 0.5 * 10 ** (-3 * self.delays / (t60 * self.rate))
            levels[:, i] = level, level * wet
            gains[:, i] = g
        first = levels[:, :1] if self._prev is None else self._prev
        prev = np.concatenate([first, levels[:, :-1]], axis=1)
        self._prev = levels[:, -1:].copy()
        # Levels ramp across each frame from the previous frame's values.
        frac = np.arange(self.frame, dtype=np.float32) / self.frame
        dry, ramp = (prev[:, :, None] + (levels - prev)[:, :, None] * frac).reshape(2, -1)
        half = (audio[0::2, 0] + audio[1::2, 0] + audio[0::2, -1] + audio[1::2, -1]) * 0.25
        wet = np.empty((2, len(half)), np.float32)
        for a in range(0, len(half), self.chunk):
            b = min(len(half), a + self.chunk)
            wet[:, a:b] = self._run(half[a:b], gains, a)
        # Back to the full rate by linear interpolation, one half-rate sample late.
        before = np.concatenate([self._last_wet, wet[:, :-1]], axis=1)
        self._last_wet = wet[:, -1:].copy()
        tail = np.empty((2, len(audio)), np.float32)
        tail[:, 0::2] = before
        tail[:, 1::2] = 0.5 * (before + wet)
        tail *= ramp
        if self.channels == 1:
            return audio * dry[:, None] + (0.5 * (tail[0] + tail[1]))[:, None]
        return audio * dry[:, None] + tail.T

    def _run(self, x: np.ndarray, gains: np.ndarray, offset: int) -> np.ndarray:
        """Run samples [offset, offset + len(x)) of a call; ``gains`` holds each frame's feedback."""
        n = len(x)
        if self._read + int(self.delays[-1]) + n > self._row:
            keep = self._buf[:, self._read - 1 :].copy()
            self._buf[:] = 0.0
            self._buf[:, : keep.shape[1]] = keep
            self._read = 1
        r = self._read
        # Delayed outputs through a 2-tap sum (the 1/2 is in the gains): highs fade each round trip.
        s = self._buf[:, r : r + n] + self._buf[:, r - 1 : r + n - 1]
        s -= 0.25 * s.sum(axis=0)  # Householder reflection: lossless mixing
        f = self._half_frame
        first, last = offset // f, (offset + n - 1) // f
        if (gains[:, first : last + 1] == gains[:, first, None]).all():  # one mood across the chunk
            s *= gains[:, first, None]
        else:
            for start in range(first * f, offset + n, f):  # each frame's own feedback gains
                a, b = max(start, offset) - offset, min(start + f, offset + n) - offset
                s[:, a:b] *= gains[:, start // f, None]
        s += x * _IN_GAINS
        item = self._flat.itemsize
        writes = np.ndarray((8, n), np.float32, self._flat, (r + int(self.delays[0])) * item,
                            ((self._row + self._step) * item, item))
        writes[...] = s
        self._read = r + n
        return self._out @ s
