"""Stingers: short accents in the current key and tempo, mixed over the music."""

from __future__ import annotations

import functools

import numpy as np

from . import theory
from .instruments import INSTRUMENT, render_note

# Each stinger: (instrument, [(start in sixteenths, length in sixteenths, scale degree, octave base, velocity)])
_SHAPES: dict[str, tuple[str, tuple[tuple[float, float, int, int, int], ...]]] = {
    "item_pickup": ("bells", ((0, 1, 0, 72, 11), (1, 1, 2, 72, 11), (2, 1, 4, 72, 12), (3, 4, 7, 72, 13))),
    "level_up": ("brass", ((0, 0.66, 0, 60, 12), (0.66, 0.66, 4, 60, 12), (1.33, 0.66, 7, 60, 13),
                           (2, 6, 9, 60, 14), (2, 6, 7, 60, 12), (2, 6, 4, 60, 12))),
    "victory": ("brass", ((0, 2, 0, 60, 12), (2, 2, 2, 60, 12), (4, 2, 4, 60, 13), (6, 8, 7, 60, 14),
                          (6, 8, 4, 60, 12), (6, 8, 2, 48, 12))),
    "secret": ("bells", ((0, 1, 0, 72, 10), (1, 1, 3, 72, 10), (2, 1, 5, 72, 11), (3, 1, 7, 72, 11),
                         (4, 6, 9, 72, 12))),
    "danger": ("brass", ((0, 3, 0, 48, 14), (0, 3, 1, 48, 13), (0, 3, 0, 36, 14))),
    "defeat": ("violin", ((0, 3, 4, 60, 11), (3, 3, 3, 60, 10), (6, 3, 2, 60, 9), (9, 8, 0, 60, 9))),
    "hit": ("contrabass", ((0, 2, 0, 36, 15), (0, 2, 4, 36, 13))),
}
_DRUMS = {"danger": "taiko", "hit": "taiko", "victory": "crash", "level_up": "crash"}
STINGERS = tuple(_SHAPES)


def check_stinger(name_or_text: str) -> str:
    """Return the stinger shape to play, or raise ValueError for unusable input."""
    if not isinstance(name_or_text, str):
        raise ValueError("stinger must be a name or a text")
    if name_or_text in _SHAPES:
        return name_or_text
    from ...mood.text import parse_mood

    p = parse_mood(name_or_text)  # raises MoodError (a ValueError) for garbled text
    if p.tension > 0.6:
        return "danger" if p.arousal > 0.5 else "defeat"
    if p.valence > 0.5 and p.arousal > 0.6:
        return "victory"
    if p.valence > 0.2:
        return "item_pickup"
    return "secret"


def render_stinger(name_or_text: str, root: int, scale: str, bpm: float, sample_rate: int) -> np.ndarray:
    """The stinger as stereo float32 (read-only), starting at its first note."""
    return _render(check_stinger(name_or_text), root, scale, round(bpm, 1), sample_rate)


@functools.lru_cache(maxsize=64)
def _render(shape: str, root: int, scale: str, bpm: float, sample_rate: int) -> np.ndarray:
    """Rendered once per shape, key and tempo: a game fires the same stingers again and again."""
    instrument, notes = _SHAPES[shape]
    sixteenth = 60.0 / bpm / 4.0 * sample_rate
    parts = []
    for start, length, degree, base, vel in notes:
        pitch = theory.scale_pitch(root, scale, degree, base)
        audio = render_note(INSTRUMENT[instrument], pitch, vel, int(length * sixteenth), 6, sample_rate)
        parts.append((int(start * sixteenth), audio))
    if shape in _DRUMS:
        parts.append((0, render_note(INSTRUMENT[_DRUMS[shape]], 60, 14, 1, 4, sample_rate)))
    total = max(s + len(a) for s, a in parts)
    mono = np.zeros(total, np.float32)
    for s, a in parts:
        mono[s : s + len(a)] += a
    mono *= 0.35
    out = np.stack([mono, mono], axis=1)
    out.setflags(write=False)
    return out
