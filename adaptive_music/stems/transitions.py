"""Transitions between moods: the end of A's loop continued into the start of B's loop.

A transition is rendered in one piece from the parts of both moods: the
notes of A's loop ringing on, then (for two bars) the bar A's composer plays
next, then the bar B's composer plays before B's loop, its phrase's cadence
into B's first bar. It starts on A's bar line and ends exactly where B's
loop starts; its last few milliseconds crossfade into the end of B's loop,
so that the step into B's loop is the same as B's own wrap.
"""

from __future__ import annotations

import dataclasses

import numpy as np

SEAM_CROSSFADE_SECONDS = 0.02


@dataclasses.dataclass(frozen=True)
class MoodParts:
    """What transitions need from one mood's render (gain applied to ``loop_tail`` only)."""

    name: str
    bpm: float
    beats_per_bar: int
    bar_samples: int
    gain: float
    outro: np.ndarray
    """From the loop's end: its notes ringing on (and the continuation bar, for 2-bar transitions)."""
    lead_in: np.ndarray
    """The bar before the loop's first bar, one bar long."""
    loop_tail: np.ndarray
    """The last samples of the mastered loop, for the crossfade into it."""
    continuation_notes: list = dataclasses.field(default_factory=list)
    """MIDI notes of the bar after the loop, from its start."""
    lead_in_notes: list = dataclasses.field(default_factory=list)
    """MIDI notes of the bar before the loop, from its start."""


def transition_samples(a: MoodParts, b: MoodParts, bars: int) -> tuple[int, int]:
    """(length, sample where B's bar starts) of the A -> B transition."""
    continuation = a.bar_samples if bars == 2 else 0
    return continuation + b.bar_samples, continuation


def assemble_transition(a: MoodParts, b: MoodParts, bars: int) -> np.ndarray:
    """The mastered A -> B transition, ``bars`` (1 or 2) bars long."""
    n, b_start = transition_samples(a, b, bars)
    if len(a.outro) < n:
        raise ValueError(f"{a.name}'s outro holds {len(a.outro)} samples, the transition needs {n}")
    out = a.outro[:n] * np.float32(a.gain)
    out[b_start:] += b.lead_in * np.float32(b.gain)
    return seam_into_loop(out, b.loop_tail)


def seam_into_loop(out: np.ndarray, loop_tail: np.ndarray) -> np.ndarray:
    """``out`` with its last samples crossfaded (equal power) into ``loop_tail``, the end of the
    loop it leads into: the step from its last sample into the loop is the loop's own wrap."""
    n = len(out)
    x = min(len(loop_tail), n)
    w = ((np.arange(x, dtype=np.float32) + 0.5) / x)[:, None] * np.float32(np.pi / 2)
    out[n - x :] = out[n - x :] * np.cos(w) + loop_tail[len(loop_tail) - x :] * np.sin(w)
    return out
