"""The playback pipeline: a producer keeps a ring a little ahead of an output's playhead.

:class:`Producer` fills the ring from a block source; it runs on a thread or
in a separate process (see :mod:`adaptive_music.playback.feed`). :class:`Player`
is the consuming side: the output calls :meth:`Player._fill` on its audio
thread with a buffer and the time at which its first frame is heard. The fill
copies from the ring and records that (frame, time) pair; every "when is
sample n heard" question is answered from the latest pair.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

import numpy as np

from .ringbuffer import RingBuffer


class Output(Protocol):
    """Where the audio goes: a sound device or a clocked file."""

    latency: float
    """Seconds from taking a buffer to hearing it (known once started)."""
    output_underflows: int

    def start(self, fill: Callable[[np.ndarray, float], None], sample_rate: int, channels: int) -> None: ...

    def stop(self) -> None: ...


class StopSignal(Protocol):
    """A threading or multiprocessing Event."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Producer:
    """Keeps ``ring`` filled to ``target_frames`` with the blocks ``source()`` returns.

    ``limit_frames`` ends the audio after that many frames (the ring is then
    closed); None goes on until stopped. An exception from ``source`` also
    closes the ring, and is kept in :attr:`error`.
    """

    POLL = 0.002  # seconds to sleep while the ring is full enough

    def __init__(self, source: Callable[[], np.ndarray], ring: RingBuffer, target_frames: int,
                 limit_frames: int | None = None) -> None:
        self.source = source
        self.ring = ring
        self.target_frames = target_frames
        self.limit_frames = limit_frames
        self.produced = 0
        self.error: BaseException | None = None

    def prefill(self, stop: StopSignal) -> None:
        """Fill the ring up to the target, without waiting."""
        while self.ring.readable < self.target_frames and not self.ring.closed and not stop.is_set():
            self._produce_one(stop)

    def run(self, stop: StopSignal) -> None:
        """Keep the ring filled until ``stop`` is set or the audio ends."""
        ring = self.ring
        while not stop.is_set() and not ring.closed:
            if ring.readable >= self.target_frames:
                time.sleep(self.POLL)
            else:
                self._produce_one(stop)

    def _produce_one(self, stop: StopSignal) -> None:
        ring = self.ring
        try:
            block = self.source()
        except Exception as exc:
            self.error = exc
            ring.close()
            raise
        if self.limit_frames is not None:
            block = block[: self.limit_frames - self.produced]
        while ring.writable < len(block):
            if stop.wait(self.POLL):
                return
        ring.write(block)
        self.produced += len(block)
        if self.limit_frames is not None and self.produced >= self.limit_frames:
            ring.close()


class Player:
    """Plays what a producer puts in ``ring`` through ``output``, gaplessly.

    Parameters
    ----------
    ring
        The ring a :class:`Producer` fills.
    sample_rate
        Frames per second in the ring.
    output
        A :class:`~adaptive_music.playback.device.DeviceOutput` or
        :class:`~adaptive_music.playback.device.ClockedFileSink`.
    preroll
        Seconds of silence played before the music: PulseAudio drops the first
        few milliseconds of a fresh stream (200 to 440 frames, measured here).
    """

    # Seconds of silence, on top of the output latency, played after the end: the
    # sound server may hold more than the latency it reports (a CI run through
    # PulseAudio lost the last 190 ms with 0.1 s here), and extra silence costs nothing.
    _TAIL = 0.5

    def __init__(self, ring: RingBuffer, sample_rate: int, output: Output, *, preroll: float = 0.1) -> None:
        self.ring = ring
        self.sample_rate = sr = int(sample_rate)
        self.output = output
        self._preroll_left = round(preroll * sr)
        self._tail_left = round(self._TAIL * sr)  # plus the output latency, once known
        self._paused = False
        # The latest (frame, time heard) pair, published by the audio thread
        # under a sequence counter: odd while it is being written.
        self._clock_seq = 0
        self._clock_frame = 0
        self._clock_time = 0.0
        self._done = threading.Event()

    def start(self) -> None:
        """Start the output; it plays what the ring holds."""
        self.output.start(self._fill, self.sample_rate, self.ring.channels)
        self._tail_left += round(self.output.latency * self.sample_rate)

    def stop(self) -> None:
        self.output.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the ring is closed and has been heard to the end; True when it has."""
        return self._done.wait(timeout)

    def pause(self) -> None:
        """Fade out and hold the playhead; the ring stays full."""
        self._paused = True

    def resume(self) -> None:
        """Fade back in where the music paused."""
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    # -- where the playhead is --------------------------------------------------

    def clock(self) -> tuple[int, float] | None:
        """The latest (ring frame, monotonic time it is heard), or None before the first audio."""
        while True:
            seq = self._clock_seq
            if seq == 0:
                return None
            if seq % 2 == 0:
                frame, heard_at = self._clock_frame, self._clock_time
                if self._clock_seq == seq:
                    return frame, heard_at

    def heard_at(self, frame: int) -> float | None:
        """Monotonic time at which ring frame ``frame`` is (or was) heard, if known."""
        c = self.clock()
        if c is None or self._paused:
            return None
        return c[1] + (frame - c[0]) / self.sample_rate

    @property
    def playhead(self) -> float:
        """Seconds of the ring's audio heard so far."""
        c = self.clock()
        if c is None:
            return 0.0
        frame = c[0] + (time.monotonic() - c[1]) * self.sample_rate
        return min(max(frame, 0.0), self.ring.frames_read) / self.sample_rate

    @property
    def buffered(self) -> float:
        """Seconds generated and not yet taken by the output."""
        return self.ring.readable / self.sample_rate

    @property
    def underruns(self) -> int:
        """Output buffers the ring could not fill in time."""
        return self.ring.underruns

    # -- audio thread -----------------------------------------------------------------

    def _fill(self, out: np.ndarray, heard_at: float) -> None:
        if self._preroll_left:
            k = min(len(out), self._preroll_left)
            out[:k] = 0.0
            self._preroll_left -= k
            if k == len(out):
                return
            out = out[k:]
            heard_at += k / self.sample_rate
        ring = self.ring
        if self._paused:
            ring.fade_out_into(out)
            return
        frame = ring.frames_read
        if ring.read_into(out):
            self._clock_seq += 1
            self._clock_frame = frame
            self._clock_time = heard_at
            self._clock_seq += 1
        elif ring.drained and not self._done.is_set():
            self._tail_left -= len(out)
            if self._tail_left <= 0:
                self._done.set()
