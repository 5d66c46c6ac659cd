"""Beat, bar and mood-transition callbacks, fired on their own thread when the music is heard."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Callable, Iterable

from ..engine.timeline import Transition
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


@dataclasses.dataclass(frozen=True)
class MoodTransition:
    """A mood change as it is heard: where it starts, or where its ramp is complete."""

    phase: str
    """``start`` or ``end``; for a change without a ramp both come at the same sample."""
    text: str
    """The mood text changed to."""
    intensity: float
    """The intensity changed to (an intensity change is a transition too, with the same text)."""
    time: float
    """When it is heard, on :func:`time.monotonic`'s clock."""
    sample: int
    """Position in the stream, in output samples."""


BeatCallback = Callable[[Beat], object]
TransitionCallback = Callable[[MoodTransition], object]


class BeatDispatcher:
    """Holds the beats and mood transitions generated ahead and fires callbacks as each one is heard.

    Parameters
    ----------
    heard_at
        Maps a stream sample to the monotonic time it is heard, or None while
        that is unknown (before playback, while paused).
    """

    _MAX_PENDING = 4096  # beats buffered ahead; far more than any sane look-ahead holds
    _MAX_PENDING_TRANSITIONS = 256  # two per change, and changes are coalesced per block

    def __init__(self, heard_at: Callable[[int], float | None]) -> None:
        self._heard_at = heard_at
        self._pending: collections.deque[Marker] = collections.deque(maxlen=self._MAX_PENDING)
        self._pending_transitions: collections.deque[Transition] = collections.deque(
            maxlen=self._MAX_PENDING_TRANSITIONS)
        self._beat_callbacks: list[BeatCallback] = []
        self._bar_callbacks: list[BeatCallback] = []
        self._transition_callbacks: list[TransitionCallback] = []
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

    def on_transition(self, callback: TransitionCallback) -> None:
        """Call ``callback(transition)`` as each mood change starts and ends."""
        with self._lock:
            self._transition_callbacks.append(callback)

    def add(self, markers: Iterable[Marker]) -> None:
        """Queue beats just generated (any thread)."""
        self._queue(self._pending, markers)

    def add_transitions(self, transitions: Iterable[Transition]) -> None:
        """Queue mood transitions just generated (any thread)."""
        self._queue(self._pending_transitions, transitions)

    def _queue(self, pending: collections.deque, items: Iterable) -> None:
        added = False
        for item in items:
            pending.append(item)
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

    def _next(self) -> collections.deque | None:
        """The queue whose head is heard first; a beat goes before a transition at the same sample."""
        beats, transitions = self._pending, self._pending_transitions
        if not transitions:
            return beats if beats else None
        if not beats:
            return transitions
        return beats if beats[0].sample <= transitions[0].sample else transitions

    def _run(self) -> None:
        while self._running:
            pending = self._next()
            if pending is None:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            heard = self._heard_at(pending[0].sample)
            wait = 0.01 if heard is None else heard - time.monotonic()
            if wait > 0.0002:
                # Re-check at least every 50 ms: a pause or an underrun moves the beat,
                # and something heard earlier may be queued meanwhile.
                self._wake.wait(min(wait, 0.05))
                self._wake.clear()
                continue
            self.fire(pending.popleft(), heard)

    def take_until(self, sample: int) -> list[Marker | Transition]:
        """Take the queued beats and transitions before ``sample``, in stream order, for an
        output that fires them itself (:meth:`fire`) instead of this dispatcher's thread."""
        items = []
        while (pending := self._next()) is not None and pending[0].sample < sample:
            items.append(pending.popleft())
        return items

    def fire(self, item: Marker | Transition, heard: float, sample: int | None = None) -> None:
        """Call the callbacks of a beat or transition, heard at ``heard`` (monotonic time),
        at stream position ``sample`` (default: its own)."""
        sample = item.sample if sample is None else sample
        if isinstance(item, Marker):
            self._fire_beat(item, heard, sample)
        else:
            self._fire_transition(item, heard, sample)

    def _fire_beat(self, marker: Marker, heard: float, sample: int) -> None:
        beat = Beat(marker.bar, marker.beat, marker.beats_per_bar, marker.bpm, heard, sample)
        self.last = beat
        with self._lock:
            callbacks = list(self._beat_callbacks)
            if beat.beat == 0:
                callbacks += self._bar_callbacks
        for callback in callbacks:
            self._call(callback, beat)

    def _fire_transition(self, transition: Transition, heard: float, sample: int) -> None:
        heard_as = MoodTransition(transition.phase, transition.mood.text, transition.mood.intensity, heard, sample)
        with self._lock:
            callbacks = list(self._transition_callbacks)
        for callback in callbacks:
            self._call(callback, heard_as)

    def _call(self, callback: Callable[..., object], event: Beat | MoodTransition) -> None:
        try:
            callback(event)
        except Exception:
            kind = "beat" if isinstance(event, Beat) else "transition"
            log.exception("%s callback %r raised; it is disabled, playback goes on", kind, callback)
            with self._lock:
                for callbacks in (self._beat_callbacks, self._bar_callbacks, self._transition_callbacks):
                    while callback in callbacks:
                        callbacks.remove(callback)
