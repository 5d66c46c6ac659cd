"""Rendering notes before they are heard, on a thread of their own.

A sampled note takes milliseconds to render (its preset's calibration longer),
and a mood change brings dozens of new ones: rendered in the generator's
40 ms hop, they would make it late. The composer is a pure function of its
state and the mood timeline, so what it composes from the stream's latest
state is what the stream will play, unless the mood changes; a change
scheduled for the next beat or bar is already in the timeline it is given.
The prefetcher composes that far ahead and renders those notes into the
shared :class:`~adaptive_music.models.procedural.instruments.NoteCache`.

The generator still asks the cache for every note it plays and renders any
that is missing itself, so the samples are the same whether a note was
prefetched or not: prefetching changes when the work is done, never what
is heard. Only a "now" change to a mood not heard before still renders its
first notes on the generator's thread (a sampled preset's calibrations are
all known before the stream starts: see
:class:`~adaptive_music.models.procedural.instruments.NoteCache`).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Callable

from .composer import Composer, Mix
from .tokens import DURATION_UNIT, Note

log = logging.getLogger(__name__)

AHEAD_SECONDS = 2.0
"""How far ahead of the stream the prefetcher composes and renders."""


class Prefetcher:
    """Keeps the note cache ahead of a stream: :meth:`follow` after each generation step."""

    def __init__(self, cache: Any, sample_rate: int, ahead: float = AHEAD_SECONDS):
        self.cache = cache
        self.sample_rate = sample_rate
        self.ahead = int(ahead * sample_rate)
        self._wake = threading.Condition()
        self._job: tuple | None = None
        # The timeline and stream sample up to which notes are prefetched or being prefetched.
        self._condition: Any = None
        self._to = -1
        self._idle = threading.Event()
        self._idle.set()
        # Started by the first follow (a model that only checks moods needs none). It holds the
        # prefetcher weakly: dropping the model ends it.
        self._thread = threading.Thread(target=_loop, args=(weakref.ref(self),), name="note-prefetch", daemon=True)

    def follow(self, data: dict, condition: Any, mix_at: Callable[[float], Mix], seed: int) -> None:
        """The stream's composer state after a step, and the mood timeline it follows."""
        head = int(data["next_sample"])
        with self._wake:
            if self._thread.ident is None:
                self._thread.start()
            if condition is not self._condition or head + self.ahead // 2 > self._to:
                self._job = (dict(data), condition, mix_at, seed)
                self._condition, self._to = condition, head + self.ahead
                self._idle.clear()
                self._wake.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every note of the latest :meth:`follow` is in the cache; True when it is."""
        return self._idle.wait(timeout)

    def _take(self, timeout: float) -> tuple | None:
        with self._wake:
            if self._job is None:
                self._idle.set()
                if timeout:
                    self._wake.wait(timeout)
            job, self._job = self._job, None
            return job

    def _run(self, job: tuple) -> None:
        data, condition, mix_at, seed = job
        end = int(data["next_sample"]) + self.ahead
        notes: dict[tuple, None] = {}

        def collect(sample: int, track: int, event: Any) -> None:
            if isinstance(event, Note):  # keyed as the token will carry it
                duration = max(1, event.duration // DURATION_UNIT) * DURATION_UNIT
                notes[(event.instrument, event.pitch, duration, event.brightness)] = None

        Composer(self.sample_rate, seed).compose(data, mix_at, end, collect)
        for instrument, pitch, duration, brightness in notes:
            with self._wake:
                if self._condition is not condition:  # the mood changed: start from there
                    return
            self.cache.warm(instrument, pitch, duration, brightness)


def _loop(ref: "weakref.ref[Prefetcher]") -> None:
    try:  # below the generator: prefetching must never take its CPU (best effort; Linux threads)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
    while True:
        me = ref()
        if me is None:
            return
        job = me._take(timeout=1.0)
        try:
            if job is not None:
                me._run(job)
        except Exception:  # the generator renders whatever is missing: music goes on
            log.exception("note prefetch failed; the generator renders notes as it needs them")
        del me
