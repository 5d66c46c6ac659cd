"""The engine output: a game engine pulls the music into its own mixer, and its pulls are the clock.

``adaptive-music serve --output engine`` opens no sound device. The engine
asks for blocks (``audio_pull`` on the bridge) from its audio thread, and each
pull plays the part a sound device's callback plays for
:class:`~adaptive_music.playback.device.DeviceOutput`: it takes frames from
the player's ring, whose producer keeps it only ``ahead`` seconds beyond what
was taken, so a client that stops pulling stops the generator and there is no
second clock to drift from the engine's. The frames are converted to the
engine's channels and sample rate (the one resampling between the generator
and the engine's mixer), and the beats and mood transitions they contain are
fired with their positions in the pulled stream before the pull returns.

A pull always returns every frame asked for and positions are contiguous:
when the ring is short it waits for the generator (which is far faster than
real time), and what is still missing after ``wait`` seconds is faded to
silence and counted as an underrun. Paused, pulls return silence and the
stream position goes on.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any, Callable

import numpy as np

from ..engine.resample import StreamResampler
from ..engine.timeline import Transition
from ..models.base import Marker
from .beats import BeatDispatcher
from .player import Playback

MAX_FRAMES = 8192
"""Most frames one pull may ask for (64 KiB of stereo float32)."""
MIN_RATE, MAX_RATE = 8000, 192000
"""Engine sample rates accepted, in Hz."""


class EngineOutput:
    """An output that the caller pulls (see the module docstring); one stream, one puller at a time.

    Parameters
    ----------
    wait
        Longest a pull waits for the generator before filling with silence, in
        seconds; at least the pulled block's own length is waited. The ring is
        normally ``ahead`` full and a pull waits for nothing; the wait only rides
        out a generator step delayed by a busy machine. Waiting keeps the stream
        equal to the offline render (the engine may play its own buffer dry
        meanwhile), where silence would shift the rest of the music; 0.2 s is
        about the engine's buffer plus two pulls, past which the engine is
        starved either way.
    """

    latency = 0.0
    """Seconds from a pull to hearing it: the engine's own buffer, unknown here."""
    preroll = 0.0
    """No silence before the music: no sound server drops the start of a pulled stream."""
    _HISTORY = 64  # input frames kept to carry the resampler over a change of rate
    _POLL = 0.0002  # seconds between looks at the ring while waiting for the generator

    def __init__(self, wait: float = 0.2) -> None:
        if not (isinstance(wait, (int, float)) and 0 < wait <= 10):
            raise ValueError(f"wait must be between 0 and 10 seconds, got {wait!r}")
        self.wait = float(wait)
        self.output_underflows = 0  # the engine counts its own
        self.restarts = 0
        self.host = "engine"
        self.holes = 0  # every pulled frame is handed out: an engine's own holes are its to count
        self.lost_seconds = 0.0
        self.longest_hole = 0.0
        self.sample_rate: int | None = None
        """The engine's sample rate, set by :meth:`open`."""
        self.channels: int | None = None
        self.position = 0
        """Stream position, in frames at the engine's rate, of the next frame a pull returns."""
        self.pulls = 0
        self._fill: Callable[[np.ndarray, float], None] | None = None
        self._playback: Playback | None = None
        self._beats: BeatDispatcher | None = None
        self._wake: Callable[[], None] = lambda: None
        self._ring_rate = 0
        self._ring_channels = 0
        self._resampler: StreamResampler | None = None
        self._fifo = np.zeros((0, 1), np.float32)  # converted frames not yet handed out
        self._taken = 0  # input frames (ring rate, fill-in silence included) taken so far
        self._history = np.zeros((0, 1), np.float32)  # the last input frames taken, ring channels
        self._origin_in = 0  # input frame at the resampler's t = 0
        self._origin_pos = 0  # stream position of the resampler's output 0
        self._made = 0  # output frames the resampler has made
        self._events: collections.deque[tuple[int, Marker | Transition]] = collections.deque()

    # -- the Output protocol (called by the Player) ------------------------------------

    def start(self, fill: Callable[[np.ndarray, float], None], sample_rate: int, channels: int,
              ready: Callable[[int], bool] | None = None) -> None:
        """Take the player's fill function; nothing runs until the first pull (which cannot wait)."""
        self._fill = fill
        self._ring_rate, self._ring_channels = int(sample_rate), int(channels)
        self._history = np.zeros((self._HISTORY, self._ring_channels), np.float32)

    def stop(self) -> None:
        self._fill = None

    def attach(self, playback: Playback, beats: BeatDispatcher, wake: Callable[[], None]) -> None:
        """Watch the player's ring through ``playback``, fire ``beats``' callbacks as pulls hand
        out their samples (the dispatcher's own thread must not run), and call ``wake`` to have
        the generator refill the ring at once after a pull took frames (the Soundtrack does this)."""
        self._playback, self._beats, self._wake = playback, beats, wake

    # -- the engine's side ------------------------------------------------------------

    def open(self, sample_rate: int, channels: int) -> int:
        """Start pulling at ``sample_rate`` Hz and ``channels`` channels, or go on at new ones;
        return the stream position of the next frame (positions never go back)."""
        if type(sample_rate) is not int or not MIN_RATE <= sample_rate <= MAX_RATE:
            raise ValueError(f"sample_rate must be an integer from {MIN_RATE} to {MAX_RATE} Hz, got {sample_rate!r}")
        if type(channels) is not int or channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {channels!r}")
        if self._fill is None:
            raise RuntimeError("the music is not playing")
        if (sample_rate, channels) != (self.sample_rate, self.channels):
            self._convert_to(sample_rate, channels)
        return self.position

    def pull(self, frames: int) -> tuple[int, np.ndarray]:
        """The next ``frames`` frames: (stream position of the first, float32 array (frames, channels))."""
        if self.sample_rate is None or self._resampler is None:
            raise RuntimeError("open the stream before pulling")
        if type(frames) is not int or not 1 <= frames <= MAX_FRAMES:
            raise ValueError(f"frames must be an integer from 1 to {MAX_FRAMES}, got {frames!r}")
        rs = self._resampler
        while len(self._fifo) < frames:
            want = self._made + frames - len(self._fifo)  # resampler outputs needed in all
            # Output n needs input up to n * down / up plus the resampler's look-ahead.
            need = want if rs.identity else -(-want * rs.down // rs.up) + rs.w
            made = rs.process(self._convert(self._take(max(1, self._origin_in + need - self._taken))))
            self._made += len(made)
            self._fifo = np.concatenate([self._fifo, made]) if len(self._fifo) else made
        block, self._fifo = self._fifo[:frames], self._fifo[frames:]
        start = self.position
        self.position += frames
        self.pulls += 1
        self._release(self.position)
        return start, np.ascontiguousarray(block, np.float32)

    def status(self) -> dict[str, Any]:
        """``engine_rate`` (None before the first open), ``position`` and ``pulls``."""
        return {"engine_rate": self.sample_rate, "position": self.position, "pulls": self.pulls}

    # -- inside --------------------------------------------------------------------

    def _take(self, n: int) -> np.ndarray:
        """``n`` frames from the player (ring rate and channels), waiting for the generator if it is behind."""
        playback, fill = self._playback, self._fill
        if playback is None or fill is None:
            raise RuntimeError("the music is not playing")
        ring = playback.ring
        out = np.empty((n, self._ring_channels), np.float32)
        done, deadline = 0, None
        while done < n:
            left = n - done
            if playback.paused or ring.closed:
                k = left  # a fade to silence, or the end: nothing to wait for
            elif ring.readable:
                k = min(ring.readable, left)
            elif deadline is None:
                self._wake()
                deadline = time.monotonic() + max(self.wait, left / self._ring_rate)
                continue
            elif time.monotonic() < deadline:
                time.sleep(self._POLL)
                continue
            else:
                k = left  # the generator is behind: the ring fades out and counts an underrun
            first = ring.frames_read
            fill(out[done : done + k], time.monotonic())
            if ring.frames_read > first:  # the ring's frames come first in what was filled
                self._schedule(first, ring.frames_read, self._taken + done)
            done += k
        self._wake()
        self._taken += n
        self._history = np.concatenate([self._history, out])[-self._HISTORY :]
        return out

    def _schedule(self, first: int, end: int, at: int) -> None:
        """Note the beats and transitions of ring frames [first, end), taken as input frame ``at`` on."""
        for item in self._beats.take_until(end):
            self._events.append((at + item.sample - first, item))

    def _release(self, end: int) -> None:
        """Fire the beats and transitions before stream position ``end``."""
        now = time.monotonic()
        while self._events:
            at, item = self._events[0]
            position = self._stream_position(at)
            if position >= end:
                return
            self._events.popleft()
            self._beats.fire(item, now, position)

    def _stream_position(self, taken: int) -> int:
        """Stream position of input frame ``taken`` (rounded to the nearest engine frame)."""
        rs = self._resampler
        return self._origin_pos + ((taken - self._origin_in) * rs.up * 2 + rs.down) // (2 * rs.down)

    def _convert(self, frames: np.ndarray) -> np.ndarray:
        """Ring channels to the engine's."""
        if self.channels == self._ring_channels:
            return frames
        if self.channels == 1:
            return frames.mean(axis=1, keepdims=True, dtype=np.float32)
        return np.repeat(frames, 2, axis=1)

    def _convert_to(self, sample_rate: int, channels: int) -> None:
        """Go on at a new rate or channel count from the next frame not yet handed out.

        Converted frames not yet handed out are dropped and made again from the
        input frames they came from (kept in a short history), with the input
        just before them as the new resampler's history, so the music goes on
        without a step (shifted by less than one input frame).
        """
        old = self._resampler
        if old is None:
            resume = self._taken
        else:
            pending = self._made - len(self._fifo)  # outputs already handed out
            resume = self._origin_in + math.ceil(pending * old.down / old.up)
        self.sample_rate, self.channels = sample_rate, channels
        lead = self._HISTORY - (self._taken - resume)  # index of input frame `resume` in the history
        history = self._convert(self._history[:lead])
        self._resampler = StreamResampler(self._ring_rate, sample_rate, channels, history=history)
        self._origin_in, self._origin_pos, self._made = resume, self.position, 0
        made = self._resampler.process(self._convert(self._history[lead:]))
        self._made = len(made)
        self._fifo = made
