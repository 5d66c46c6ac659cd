"""The playback pipeline: a producer keeps a ring a little ahead of an output's playhead.

:class:`Producer` fills the ring from a block source. :class:`Player` is the
consuming side: the output calls :meth:`Player._fill` on its audio thread
with a buffer and the time at which its first frame is heard. The fill
copies from the ring and publishes that (frame, time) pair in a
:class:`PlayerState`; every "when is sample n heard" question is answered
from the latest pair by a :class:`Playback` view. Producer, player and
output run together on threads of one process (see
:mod:`adaptive_music.playback.feed`); the state and the ring can live in
shared memory, so that the game's process watches and steers playback
through a :class:`Playback` without ever running the audio callback.
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
    host: str
    """What plays it: ``pulseaudio``, ``portaudio``, ``file`` or ``engine``."""
    output_underflows: int
    restarts: int
    holes: int
    """Stretches of silence the output let through (see :class:`~adaptive_music.playback.holes.HoleMeter`)."""
    lost_seconds: float
    """Their total length: how much later than planned the music is heard."""
    longest_hole: float

    def start(self, fill: Callable[[np.ndarray, float], None], sample_rate: int, channels: int,
              ready: Callable[[int], bool] | None = None) -> None:
        """Start calling ``fill``. ``ready(frames)`` says whether ``fill`` can take that many
        frames from audio already made; an output that chooses when to write (PulseAudio) waits
        for it while its own buffer still holds audio, rather than take a ring underrun."""

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
        self.wake = threading.Event()
        """Set by a consumer that took frames and wants the ring refilled before the next poll."""

    def prefill(self, stop: StopSignal) -> None:
        """Fill the ring up to the target, without waiting."""
        while self.ring.readable < self.target_frames and not self.ring.closed and not stop.is_set():
            self._produce_one(stop)

    def run(self, stop: StopSignal) -> None:
        """Keep the ring filled until ``stop`` is set or the audio ends."""
        ring = self.ring
        while not stop.is_set() and not ring.closed:
            if ring.readable >= self.target_frames:
                self.wake.wait(self.POLL)
                self.wake.clear()
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


class PlayerState:
    """What a player publishes, in memory another process may map.

    The playhead clock (the latest ring frame handed to the output and the
    monotonic time it is heard, under a sequence counter that is odd while it
    is being written), the end-of-music flag and the output's counters are
    stored by the player; the pause flag by whoever steers it.

    Parameters
    ----------
    buffer
        Writable memory of :attr:`NBYTES` bytes; zeroed memory is a fresh
        state. None allocates.
    """

    NBYTES = 16 * 8
    _SEQ, _FRAME, _PAUSED, _DONE, _UNDERFLOWS, _RESTARTS = range(6)  # int64 slots
    _TIME, _LATENCY = 6, 7  # float64 slots
    _HOLES, _HOST = 8, 9  # int64 slots
    _LOST, _LONGEST = 10, 11  # float64 slots
    HOSTS = ("", "pulseaudio", "portaudio", "file", "engine")

    def __init__(self, buffer: object = None) -> None:
        if buffer is None:
            buffer = bytearray(self.NBYTES)
        self._i = np.frombuffer(buffer, np.int64, 16)
        self._f = np.frombuffer(buffer, np.float64, 16)

    def publish_clock(self, frame: int, heard_at: float) -> None:
        i = self._i
        i[self._SEQ] += 1
        i[self._FRAME] = frame
        self._f[self._TIME] = heard_at
        i[self._SEQ] += 1

    def clock(self) -> tuple[int, float] | None:
        """The latest (ring frame, monotonic time it is heard), or None before the first audio."""
        i = self._i
        while True:
            seq = int(i[self._SEQ])
            if seq == 0:
                return None
            if seq % 2 == 0:
                frame, heard_at = int(i[self._FRAME]), float(self._f[self._TIME])
                if int(i[self._SEQ]) == seq:
                    return frame, heard_at

    def publish_output(self, output: "Output") -> None:
        i, f = self._i, self._f
        i[self._UNDERFLOWS] = output.output_underflows
        i[self._RESTARTS] = output.restarts
        i[self._HOLES] = output.holes
        i[self._HOST] = self.HOSTS.index(output.host)
        f[self._LATENCY] = output.latency
        f[self._LOST] = output.lost_seconds
        f[self._LONGEST] = output.longest_hole

    @property
    def host(self) -> str:
        return self.HOSTS[int(self._i[self._HOST])]

    @property
    def holes(self) -> int:
        return int(self._i[self._HOLES])

    @property
    def lost_seconds(self) -> float:
        return float(self._f[self._LOST])

    @property
    def longest_hole(self) -> float:
        return float(self._f[self._LONGEST])

    @property
    def output_underflows(self) -> int:
        return int(self._i[self._UNDERFLOWS])

    @property
    def restarts(self) -> int:
        return int(self._i[self._RESTARTS])

    @property
    def latency(self) -> float:
        return float(self._f[self._LATENCY])

    @property
    def paused(self) -> bool:
        return bool(self._i[self._PAUSED])

    @paused.setter
    def paused(self, value: bool) -> None:
        self._i[self._PAUSED] = int(value)

    @property
    def done(self) -> bool:
        return bool(self._i[self._DONE])

    def set_done(self) -> None:
        self._i[self._DONE] = 1


class Playback:
    """Watches and steers a :class:`Player`, in its process or another one.

    Parameters
    ----------
    ring
        The player's ring (or a mapping of the same shared memory).
    state
        The player's state (or a mapping of it).
    sample_rate
        Frames per second in the ring.
    """

    _POLL = 0.005  # seconds between looks at the end flag in wait()

    def __init__(self, ring: RingBuffer, state: PlayerState, sample_rate: int) -> None:
        self.ring = ring
        self.state = state
        self.sample_rate = int(sample_rate)

    def pause(self) -> None:
        """Fade out and hold the playhead; the ring stays full."""
        self.state.paused = True

    def resume(self) -> None:
        """Fade back in where the music paused."""
        self.state.paused = False

    @property
    def paused(self) -> bool:
        return self.state.paused

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the ring is closed and has been heard to the end; True when it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.state.done:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(self._POLL)
        return True

    def clock(self) -> tuple[int, float] | None:
        """The latest (ring frame, monotonic time it is heard), or None before the first audio."""
        return self.state.clock()

    def heard_at(self, frame: int) -> float | None:
        """Monotonic time at which ring frame ``frame`` is (or was) heard, if known."""
        c = self.state.clock()
        if c is None or self.state.paused:
            return None
        return c[1] + (frame - c[0]) / self.sample_rate

    @property
    def playhead(self) -> float:
        """Seconds of the ring's audio heard so far."""
        c = self.state.clock()
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

    @property
    def output_underflows(self) -> int:
        """Buffers the output reported it ran out of audio (``output_underflow``)."""
        return self.state.output_underflows

    @property
    def restarts(self) -> int:
        """Times the output reopened a lost device."""
        return self.state.restarts

    @property
    def holes(self) -> int:
        """Stretches of silence the output let through, on the output's clock."""
        return self.state.holes

    @property
    def lost_seconds(self) -> float:
        """Their total length: the clock (playhead, beat times) has moved on by this much."""
        return self.state.lost_seconds

    @property
    def longest_hole(self) -> float:
        return self.state.longest_hole

    @property
    def host(self) -> str:
        """What plays the music: ``pulseaudio``, ``portaudio``, ``file`` or ``engine``."""
        return self.state.host

    @property
    def latency(self) -> float:
        """Seconds from the output taking a buffer to hearing it."""
        return self.state.latency


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
    state
        Where to publish the clock and counters, and read the pause flag; a fresh one if None.
    preroll
        Seconds of silence played before the music: PulseAudio drops the first
        few milliseconds of a fresh stream (200 to 440 frames, measured here).
        None: the output's own ``preroll`` where it declares one (an engine that
        pulls the audio needs none), else 0.1 s.
    """

    # Seconds of silence, on top of the output latency, played after the end: the
    # sound server may hold more than the latency it reports (a CI run through
    # PulseAudio lost the last 190 ms with 0.1 s here), and extra silence costs nothing.
    _TAIL = 0.5

    def __init__(self, ring: RingBuffer, sample_rate: int, output: Output, *, state: PlayerState | None = None,
                 preroll: float | None = None) -> None:
        self.ring = ring
        self.sample_rate = sr = int(sample_rate)
        self.output = output
        self.state = state if state is not None else PlayerState()
        self.playback = Playback(ring, self.state, sr)
        if preroll is None:
            preroll = getattr(output, "preroll", 0.1)
        self._preroll_left = round(preroll * sr)
        self._tail_left = round(self._TAIL * sr)  # plus the output latency, once known

    def start(self) -> None:
        """Start the output; it plays what the ring holds."""
        self.output.start(self._fill, self.sample_rate, self.ring.channels, ready=self._ready)
        self.state.publish_output(self.output)
        self._tail_left += round(self.output.latency * self.sample_rate)

    def stop(self) -> None:
        self.output.stop()

    # -- audio thread -----------------------------------------------------------------

    def _ready(self, frames: int) -> bool:
        """Whether :meth:`_fill` can fill ``frames`` without a ring underrun."""
        ring = self.ring
        return bool(self._preroll_left) or self.state.paused or ring.closed or ring.readable >= frames

    def _fill(self, out: np.ndarray, heard_at: float) -> None:
        state = self.state
        state.publish_output(self.output)
        if self._preroll_left:
            k = min(len(out), self._preroll_left)
            out[:k] = 0.0
            self._preroll_left -= k
            if k == len(out):
                return
            out = out[k:]
            heard_at += k / self.sample_rate
        ring = self.ring
        if state.paused:
            ring.fade_out_into(out)
            return
        frame = ring.frames_read
        if ring.read_into(out):
            state.publish_clock(frame, heard_at)
        elif ring.drained and not state.done:
            self._tail_left -= len(out)
            if self._tail_left <= 0:
                state.set_done()
