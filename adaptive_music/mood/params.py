"""Musical parameters a text mood maps to."""

from __future__ import annotations

import dataclasses
import math

INSTRUMENT_TAGS = frozenset(
    {"strings", "piano", "synth", "choir", "brass", "bells", "guitar", "flute", "organ", "drums"}
)
"""Instrumentation tags the procedural backend knows how to voice."""

_RANGES = {
    "valence": (-1.0, 1.0),
    "arousal": (0.0, 1.0),
    "tension": (0.0, 1.0),
    "tempo": (60.0, 200.0),
    "density": (0.0, 1.0),
    "brightness": (0.0, 1.0),
}


@dataclasses.dataclass(frozen=True)
class MoodParams:
    """A mood as numbers. Every field is clamped to its range on creation."""

    valence: float = 0.0
    """-1 dark/sad .. +1 bright/happy."""
    arousal: float = 0.4
    """0 calm .. 1 excited."""
    tension: float = 0.3
    """0 relaxed .. 1 tense."""
    tempo: float = 96.0
    """Beats per minute, 60..200."""
    density: float = 0.4
    """0 sparse .. 1 busy."""
    brightness: float = 0.5
    """0 dark, muffled timbres .. 1 bright ones."""
    tags: frozenset[str] = frozenset()
    """Instrumentation tags, a subset of INSTRUMENT_TAGS."""

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f"mood parameter {name} must be finite")
            object.__setattr__(self, name, min(hi, max(lo, value)))
        unknown = set(self.tags) - INSTRUMENT_TAGS
        if unknown:
            raise ValueError(f"unknown instrument tags: {sorted(unknown)}")
        object.__setattr__(self, "tags", frozenset(self.tags))

    def as_dict(self) -> dict:
        d = {name: round(getattr(self, name), 3) for name in _RANGES}
        d["tags"] = sorted(self.tags)
        return d

    @staticmethod
    def mix(parts: list[tuple["MoodParams", float]]) -> "MoodParams":
        """Weighted mean of numeric fields; tags from the heaviest part."""
        total = sum(w for _, w in parts)
        if total <= 0:
            raise ValueError("mix needs a positive total weight")
        values = {
            name: sum(getattr(p, name) * w for p, w in parts) / total for name in _RANGES
        }
        heaviest = max(parts, key=lambda pw: pw[1])[0]
        return MoodParams(tags=heaviest.tags, **values)
