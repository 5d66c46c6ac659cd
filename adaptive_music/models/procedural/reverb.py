"""A feedback-delay-network reverb whose depth and length follow the mood."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

# Mutually prime delays (samples at 48 kHz, scaled for other rates): 41-74 ms.
# Each exceeds two frames, so a whole hop of frames runs in few vectorised chunks.
_DELAYS_48K = (1973, 2179, 2399, 2617, 2851, 3061, 3299, 3547)
_IN_SIGNS = np.array([1, -1, 1, -1, 1, 1, -1, -1], np.float32)
_OUT_L = np.array([1, 1, -1, 1, -1, 1, 1, -1], np.float32) / np.sqrt(8)
_OUT_R = np.array([1, -1, 1, 1, 1, -1, 1, 1], np.float32) / np.sqrt(8)


class Reverb:
    """An 8-line FDN with a Householder mix and gentle damping in the loop.

    It runs in chunks shorter than the shortest delay, so each chunk's
    feedback reads only the past and the network runs vectorised. The mood
    sets, per frame, (level, wet, seconds to decay 60 dB) through
    ``space(condition, frame)``: level scales dry and wet together, as a
    reverb unit's output level does. Every sample's arithmetic is fixed by its
    frame, so the result does not depend on how the stream is cut into calls.
    """

    def __init__(self, sample_rate: int, samples_per_frame: int, channels: int,
                 space: Callable[[Any, float], tuple[float, float, float]]):
        self.sr = sample_rate
        self.frame = samples_per_frame
        self.channels = channels
        self.space = space
        self.delays = np.array([round(d * sample_rate / 48000) for d in _DELAYS_48K])
        self.chunk = int(self.delays.min()) - 1
        # Each line writes its output d samples ahead of the shared read
        # position, so one 2-D slice reads every line's delayed signal.
        self._size = 1 << 15
        self._buf = np.zeros((8, self._size), np.float32)
        self._read = 1  # one sample of history before it feeds the 2-tap average
        self._out = np.stack([_OUT_L, _OUT_R])
        self._prev: np.ndarray | None = None

    def process(self, audio: np.ndarray, condition: Any, frame: int) -> np.ndarray:
        """Add the reverb to whole frames of audio starting at absolute ``frame``."""
        n_frames = len(audio) // self.frame
        levels = np.empty((2, n_frames), np.float32)  # dry, wet
        gains = np.empty((8, n_frames), np.float32)
        for i in range(n_frames):
            level, wet, t60 = self.space(condition, frame + i)
            levels[:, i] = level, level * wet
            gains[:, i] = 10 ** (-3 * self.delays / (t60 * self.sr))
        first = levels[:, :1] if self._prev is None else self._prev
        prev = np.concatenate([first, levels[:, :-1]], axis=1)
        self._prev = levels[:, -1:].copy()
        # Levels ramp across each frame from the previous frame's values.
        frac = np.arange(self.frame, dtype=np.float32) / self.frame
        dry, ramp = (prev[:, :, None] + (levels - prev)[:, :, None] * frac).reshape(2, -1)
        mono = (audio[:, 0] + audio[:, -1]) * 0.5
        tail = np.empty((2, len(audio)), np.float32)
        for a in range(0, len(audio), self.chunk):
            b = min(len(audio), a + self.chunk)
            tail[:, a:b] = self._run(mono[a:b], gains, a)
        tail *= ramp
        if self.channels == 1:
            return audio * dry[:, None] + (0.5 * (tail[0] + tail[1]))[:, None]
        return audio * dry[:, None] + tail.T

    def _run(self, x: np.ndarray, gains: np.ndarray, offset: int) -> np.ndarray:
        """Run samples [offset, offset + len(x)) of a call; ``gains`` holds each frame's feedback."""
        n = len(x)
        if self._read + int(self.delays.max()) + n > self._size:
            keep = self._buf[:, self._read - 1 :].copy()
            self._buf[:] = 0.0
            self._buf[:, : keep.shape[1]] = keep
            self._read = 1
        r = self._read
        # Delayed outputs through a 2-tap average: highs fade a little each round trip.
        s = 0.5 * (self._buf[:, r : r + n] + self._buf[:, r - 1 : r + n - 1])
        s -= (2.0 / 8.0) * s.sum(axis=0)  # Householder reflection: lossless mixing
        f = self.frame
        for start in range(offset - offset % f, offset + n, f):  # each frame's own feedback gains
            a, b = max(start, offset) - offset, min(start + f, offset + n) - offset
            s[:, a:b] *= gains[:, start // f, None]
        y = x[None, :] * (_IN_SIGNS[:, None] * 0.35) + s
        for k, d in enumerate(self.delays):
            self._buf[k, r + d : r + d + n] = y[k]
        self._read = r + n
        return self._out @ y
