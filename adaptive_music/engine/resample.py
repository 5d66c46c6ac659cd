"""Streaming sample-rate conversion with no net delay."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class StreamResampler:
    """Polyphase windowed-sinc resampler for a stream of (samples, channels) blocks.

    Output sample n corresponds exactly to input time n * in_rate / out_rate,
    so positions map between rates without offset. It holds back the last
    ``half_width`` input samples (its look-ahead) until more input, or
    :meth:`flush`, arrives. ``history`` holds the input samples just before
    t = 0 (zeros if None or short), so that a stream can go on at a new rate
    without a step.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int, half_width: int = 16,
                 history: np.ndarray | None = None):
        g = math.gcd(in_rate, out_rate)
        self.up, self.down = out_rate // g, in_rate // g
        self.channels = channels
        self.w = half_width
        self._buf = np.zeros((half_width, channels), np.float32)  # the input before t = 0
        if history is not None and len(history):
            tail = history[-half_width:]
            self._buf[half_width - len(tail):] = tail
        self._buf_start = -half_width
        self._next_out = 0
        self._in_count = 0
        cutoff = min(1.0, self.up / self.down) * 0.92
        k = np.arange(-half_width + 1, half_width + 1)
        phases = np.arange(self.up) / self.up
        tau = phases[:, None] - k[None, :]  # x - (i0 + k) with x = i0 + phase
        win = np.cos(0.5 * np.pi * np.clip(tau / half_width, -1, 1)) ** 2
        table = cutoff * np.sinc(cutoff * tau) * win
        self._table = (table / table.sum(axis=1, keepdims=True)).astype(np.float32)
        self._offsets = k

    @property
    def identity(self) -> bool:
        return self.up == self.down

    def process(self, audio: np.ndarray, final: bool = False) -> np.ndarray:
        """Feed input samples; return every output sample now computable."""
        if self.identity:
            return audio
        self._buf = np.concatenate([self._buf, audio.astype(np.float32, copy=False)])
        self._in_count += len(audio)
        if final:
            self._buf = np.concatenate([self._buf, np.zeros((self.w, self.channels), np.float32)])
            # Last output whose input time is inside the signal.
            last = -(-self._in_count * self.up // self.down)
        else:
            # Output n needs input up to floor(n*down/up) + w.
            last = ((self._in_count - self.w) * self.up) // self.down
            last = max(last, self._next_out)
        ns = np.arange(self._next_out, last, dtype=np.int64)
        if len(ns) == 0:
            return np.zeros((0, self.channels), np.float32)
        i0 = ns * self.down // self.up
        phase = ns * self.down % self.up
        # Each output's 2w taps as one row of a strided view: one gather of rows, not of single samples.
        taps = sliding_window_view(self._buf, 2 * self.w, axis=0)[i0 + self._offsets[0] - self._buf_start]
        out = np.einsum("nck,nk->nc", taps, self._table[phase])
        self._next_out = last
        keep_from = int(last * self.down // self.up) - self.w + 1 - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return out.astype(np.float32)

    def flush(self) -> np.ndarray:
        return self.process(np.zeros((0, self.channels), np.float32), final=True)
