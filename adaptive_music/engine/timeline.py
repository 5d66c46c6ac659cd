"""Mood changes over time: scheduling, quantisation and ramps."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..models.base import Blend, check_intensity

TRANSITIONS = ("now", "beat", "bar")


@dataclasses.dataclass(frozen=True)
class MoodChange:
    """A change in an offline timeline: at ``at`` seconds, move to ``text``."""

    at: float
    text: str | None = None
    """New mood text, or None to keep the current one."""
    transition: str = "now"
    ramp: float = 0.0
    intensity: float | None = None

    def __post_init__(self) -> None:
        check_transition(self.transition, self.ramp)
        if not (math.isfinite(self.at) and self.at >= 0):
            raise ValueError(f"change time must be a non-negative number of seconds, got {self.at!r}")
        if self.intensity is not None:
            check_intensity(self.intensity)


def check_transition(transition: str, ramp: float) -> None:
    if transition not in TRANSITIONS:
        raise ValueError(f"transition must be one of {', '.join(TRANSITIONS)}; got {transition!r}")
    if not (isinstance(ramp, (int, float)) and math.isfinite(ramp) and 0 <= ramp <= 60):
        raise ValueError(f"ramp must be between 0 and 60 seconds, got {ramp!r}")


@dataclasses.dataclass(frozen=True)
class _Ramp:
    start: float
    end: float
    target: Any
    label: Any = None


@dataclasses.dataclass(frozen=True)
class Transition:
    """A mood change as it is heard: ``phase`` "start" or "end" at output ``sample``."""

    phase: str
    mood: Any
    sample: int


class ConditionTrack:
    """The backend condition as a function of frame: a base and the ramps layered on it.

    A change that starts at or before a still-pending one replaces it: the
    latest request wins and nothing queues up.
    """

    def __init__(self, base: Any):
        self.base = base
        self._ramps: list[_Ramp] = []
        self._tree: Any = base

    def add(self, target: Any, start: float, ramp_frames: float, label: Any = None) -> None:
        """Ramp to ``target`` over [start, start + ramp_frames); ``label`` names it in transitions."""
        self._ramps = [r for r in self._ramps if r.start < start]
        self._ramps.append(_Ramp(start, start + ramp_frames, target, label))
        self._build()

    def crossings(self, begin: float, end: float) -> list[tuple[str, float, Any]]:
        """Ramp starts and ends within frames [begin, end): (phase, frame, label), in order."""
        out = []
        for r in self._ramps:
            for phase, at in (("start", r.start), ("end", r.end)):
                if begin <= at < end:
                    out.append((phase, at, r.label))
        return sorted(out, key=lambda x: (x[1], x[0] != "start"))

    def settle(self, frame: float) -> None:
        """Fold ramps that are complete by ``frame`` into the base."""
        done = 0
        for r in self._ramps:
            if r.end <= frame and r.start <= frame:
                done += 1
            else:
                break
        if done:
            self.base = self._ramps[done - 1].target
            self._ramps = self._ramps[done:]
            self._build()

    @property
    def latest(self) -> Any:
        """The condition the music is heading to."""
        return self._ramps[-1].target if self._ramps else self.base

    @property
    def condition(self) -> Any:
        return self._tree

    def _build(self) -> None:
        tree = self.base
        for r in self._ramps:
            tree = Blend(tree, r.target, r.start, r.end)
        self._tree = tree
