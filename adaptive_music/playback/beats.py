"""Beat and bar callbacks, fired on their own thread when the beat is heard."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Callable, Iterable

from ..models.base import Marker

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Beat:
    """A beat as it is heard."""

    bar: int
    beat: int
    """Beat within the bar, from 0; 0 is the downbeat."""
    beats_per_bar: int
    bpm: float
    time: float
    """When the beat is heard, on :func:`time.monotonic`'s clock."""
    sample: int
    """Position in the stream, in output samples."""


BeatCallback = Callable[[Beat], object]


class BeatDispatcher:
    """Holds the beats generated ahead and fires callbacks as each one is heard.

    Parameters
    ----------
    heard_at
        Maps a stream sample to the monotonic time it is heard, or None while
        that is unknown (before playback, while paused).
    """

    _MAX_PENDING = 4096  # beats buffered ahead; far more than any sane look-ahead holds

    def __init__(self, heard_at: Callable[[int], float | None]) -> None:
        self._heard_at = heard_at
        self._pending: collections.deque[Marker] = collections.deque(maxlen=self._MAX_PENDING)
        self._beat_callbacks: list[BeatCallback] = []
        self._bar_callbacks: list[BeatCallback] = []
        self._lock = threading.Lock()  # guards the callback lists, never held while calling out
        self._wake = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None
        self.last: Beat | None = None
        """The beat heard most recently."""

    def on_beat(self, callback: BeatCallback) -> None:
        """Call ``callback(beat)`` on every beat."""
        with self._lock:
            self._beat_callbacks.append(callback)

    def on_bar(self, callback: BeatCallback) -> None:
        """Call ``callback(beat)`` on every downbeat."""
        with self._lock:
            self._bar_callbacks.append(callback)

    def add(self, markers: Iterable[Marker]) -> None:
        """Queue beats just generated (any thread)."""
        added = False
        for m in markers:
            self._pending.append(m)
            added = True
        if added:
            self._wake.set()

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="adaptive-music-beats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while self._running:
            if not self._pending:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            marker = self._pending[0]
            heard = self._heard_at(marker.sample)
            wait = 0.01 if heard is None else heard - time.monotonic()
            if wait > 0.0002:
                # Re-check at least every 50 ms: a pause or an underrun moves the beat.
                self._wake.wait(min(wait, 0.05))
                self._wake.clear()
                continue
            self._pending.popleft()
            beat = Beat(marker.bar, marker.beat, marker.beats_per_bar, marker.bpm, heard, marker.sample)
            self.last = beat
            with self._lock:
                callbacks = list(self._beat_callbacks)
                if beat.beat == 0:
                    callbacks += self._bar_callbacks
            for callback in callbacks:
                self._call(callback, beat)

    def _call(self, callback: BeatCallback, beat: Beat) -> None:
        try:
            callback(beat)
        except Exception:
            log.exception("beat callback %r raised; it is disabled, playback goes on", callback)
            with self._lock:
                for callbacks in (self._beat_callbacks, self._bar_callbacks):
                    while callback in callbacks:
                        callbacks.remove(callback)
