"""A preallocated single-producer single-consumer ring of float32 audio frames.

The consumer is the audio callback, so :meth:`RingBuffer.read_into` only
copies: it allocates no buffers, takes no locks and never logs. Each index is
written by one side only and read by the other, and the writer copies its
frames in before it publishes the new write index, so the reader never sees
a frame that is not there yet.

The indices and the frames can live in memory shared with another process
(``buffer``), so that the producer can run outside the consumer's GIL. The
indices are aligned 64-bit integers, which x86-64 and ARMv8 store and load
whole. Across processes the publish step relies on stores becoming visible
in order, which x86-64 guarantees; Python offers no memory fence, so on
weakly ordered CPUs (ARM) a reader could in principle see an index before
the frames it covers. Within one process the GIL orders everything.

When the ring runs dry the missing frames decay from the last frame played
to silence over ``fade_frames`` instead of stepping to zero (a click), and
the next frames that arrive fade back in the same way.
"""

from __future__ import annotations

import numpy as np


# Slots of the shared int64 header: each is stored by one side only.
_WRITTEN, _READ, _CLOSED, _UNDERRUNS, _UNDERRUN_FRAMES = range(5)
_HEADER = 8 * 8  # bytes: eight int64 slots, the last three spare


class RingBuffer:
    """A ring of ``capacity`` frames, ``channels`` wide.

    Parameters
    ----------
    capacity
        Frames the ring holds.
    channels
        Samples per frame.
    fade_frames
        Length of the fade to silence on an underrun and of the fade back in.
    buffer
        Writable memory of :meth:`nbytes` bytes to keep the indices and frames
        in (shared memory); the producer and the consumer each wrap the same
        memory in a RingBuffer. Zeroed memory is an empty ring. None allocates.
    """

    def __init__(self, capacity: int, channels: int, *, fade_frames: int = 128, buffer: object = None) -> None:
        if capacity < 1 or channels < 1 or fade_frames < 1:
            raise ValueError("capacity, channels and fade_frames must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        if buffer is None:
            buffer = bytearray(self.nbytes(self.capacity, self.channels))
        self._idx = np.frombuffer(buffer, np.int64, _HEADER // 8)
        self._buf = np.frombuffer(buffer, np.float32, self.capacity * self.channels, _HEADER).reshape(
            self.capacity, self.channels)
        # Ramps as wide as a frame: numpy multiplies equal shapes without
        # building a broadcasting iterator, which would allocate.
        steps = np.arange(1, fade_frames + 1, dtype=np.float32) / fade_frames
        self._fade_in = np.repeat(steps[:, None], self.channels, axis=1)
        self._fade_out = np.ascontiguousarray(self._fade_in[::-1] - 1.0 / fade_frames)
        self._fade_frames = int(fade_frames)
        self._last = np.zeros(self.channels, np.float32)
        self._fade_in_at = self._fade_frames  # == fade_frames: not fading in

    @staticmethod
    def nbytes(capacity: int, channels: int) -> int:
        """Bytes of memory a ring of this size keeps in ``buffer``."""
        return _HEADER + 4 * capacity * channels

    # -- both sides -------------------------------------------------------------

    @property
    def readable(self) -> int:
        """Frames written and not yet read."""
        idx = self._idx
        return int(idx[_WRITTEN] - idx[_READ])

    @property
    def writable(self) -> int:
        """Frames that fit without overwriting unread ones."""
        return self.capacity - self.readable

    @property
    def frames_read(self) -> int:
        """Frames of audio read so far (fill-in silence not counted)."""
        return int(self._idx[_READ])

    @property
    def frames_written(self) -> int:
        return int(self._idx[_WRITTEN])

    @property
    def underruns(self) -> int:
        """Reads that came up short while the producer was still running."""
        return int(self._idx[_UNDERRUNS])

    @property
    def underrun_frames(self) -> int:
        """Frames of silence those reads filled in."""
        return int(self._idx[_UNDERRUN_FRAMES])

    @property
    def closed(self) -> bool:
        return bool(self._idx[_CLOSED])

    @property
    def drained(self) -> bool:
        """True once the producer has closed the ring and every frame was read."""
        idx = self._idx
        return bool(idx[_CLOSED]) and idx[_READ] == idx[_WRITTEN]

    # -- producer ---------------------------------------------------------------

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames`` (shape ``(n, channels)``); raise BufferError if they don't fit."""
        if self.closed:
            raise BufferError("the ring is closed")
        n = len(frames)
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"expected frames of shape (n, {self.channels}), got {frames.shape}")
        if n > self.writable:
            raise BufferError(f"{n} frames do not fit: {self.writable} free of {self.capacity}")
        written = int(self._idx[_WRITTEN])
        start = written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = frames[:first]
        self._buf[: n - first] = frames[first:]
        self._idx[_WRITTEN] = written + n  # publish only after the copy

    def close(self) -> None:
        """Mark the end of the audio: running dry from now on is not an underrun."""
        self._idx[_CLOSED] = 1

    # -- consumer (audio callback) ------------------------------------------------

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` (shape ``(n, channels)``, float32) and return the frames of audio read.

        Frames the ring can't supply are faded to silence and, unless the ring
        is closed, counted as an underrun.
        """
        n = len(out)
        if n == 0:
            return 0
        idx = self._idx
        read = int(idx[_READ])
        got = min(n, int(idx[_WRITTEN]) - read)
        if got:
            start = read % self.capacity
            first = min(got, self.capacity - start)
            out[:first] = self._buf[start : start + first]
            if got > first:
                out[first:got] = self._buf[: got - first]
            idx[_READ] = read + got
            if self._fade_in_at < self._fade_frames:
                self._apply_fade_in(out[: min(got, self._fade_frames - self._fade_in_at)])
        if got < n:
            if not idx[_CLOSED]:
                idx[_UNDERRUNS] += 1
                idx[_UNDERRUN_FRAMES] += n - got
            self._fade_out_into(out[got:], out[got - 1] if got else self._last)
        self._last[:] = out[n - 1]
        return got

    def fade_out_into(self, out: np.ndarray) -> None:
        """Fill ``out`` with a fade from the last frame to silence, reading nothing (pause)."""
        if len(out) == 0:
            return
        self._fade_out_into(out, self._last)
        self._last[:] = out[len(out) - 1]

    def _fade_out_into(self, out: np.ndarray, last: np.ndarray) -> None:
        m = min(len(out), self._fade_frames)
        out[:m] = last
        out[:m] *= self._fade_out[:m]
        out[m:] = 0.0
        self._fade_in_at = 0

    def _apply_fade_in(self, head: np.ndarray) -> None:
        at = self._fade_in_at
        m = len(head)
        head *= self._fade_in[at : at + m]
        self._fade_in_at = at + m
