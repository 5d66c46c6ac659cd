"""What a stems build renders: moods, stingers, transitions and render parameters, checked up front."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from ..mood.maps import MoodMap
from ..mood.text import parse_mood
from .files import check_format

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TRANSITION_BARS = (1, 2)
BACKENDS = ("procedural", "musicgen")
DEFAULT_MUSICGEN = "facebook/musicgen-small"


class StemsError(ValueError):
    """Bad input for a stems build, found before anything is rendered."""


@dataclasses.dataclass(frozen=True)
class StemsSpec:
    """Everything a build depends on; the same spec gives the same files."""

    moods: tuple[tuple[str, str], ...]
    """(name, mood text), in map order."""
    stingers: tuple[tuple[str, str], ...] = ()
    """(name, stinger text)."""
    transitions: tuple[tuple[str, str], ...] | None = None
    """Ordered (from, to) pairs; None means every ordered pair."""
    bars: int = 16
    seed: int = 0
    intensity: float = 1.0
    """The intensity the loops are rendered at; layers say where they enter below it."""
    transition_bars: int = 2
    format: str = "ogg"
    sample_rate: int = 48000
    midi: bool | None = None
    """Write the score as MIDI; None: when the backend has a score (procedural)."""
    backend: str = "procedural"
    """procedural, or musicgen (see :mod:`adaptive_music.stems.musicgen` for what its builds lack)."""
    model: str | None = None
    """musicgen: hub id or save_pretrained folder (default facebook/musicgen-small)."""
    melody: str | None = None
    """musicgen-melody: an audio file whose theme every mood plays a variation of."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise StemsError(f"unknown backend {self.backend!r}; choose one of: {', '.join(BACKENDS)}")
        musicgen = self.backend == "musicgen"
        if musicgen and self.midi:
            raise StemsError("musicgen makes audio, not notes: it has no score to write as MIDI")
        if not musicgen and (self.model is not None or self.melody is not None):
            raise StemsError("--model and --melody need --backend musicgen")
        object.__setattr__(self, "midi", not musicgen if self.midi is None else self.midi)
        if musicgen and self.model is None:
            object.__setattr__(self, "model", DEFAULT_MUSICGEN)
        if not self.moods:
            raise StemsError("no moods to render: the map has no [moods] and no --mood was given")
        names = [n for n, _ in self.moods]
        for name, _ in self.moods + self.stingers:
            if not _NAME.match(name):
                raise StemsError(f"name {name!r} can't be a file name: use letters, digits, _ and - (at most 64)")
        if len(set(names)) != len(names):
            raise StemsError(f"mood names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        for name, text in self.moods:
            try:
                parse_mood(text)
            except ValueError as exc:
                raise StemsError(f"mood {name!r}: {exc}") from None
        for a, b in self.pairs():
            for end in (a, b):
                if end not in names:
                    raise StemsError(f"transition {a}->{b} names an unknown mood {end!r}; moods are {', '.join(names)}")
            if a == b:
                raise StemsError(f"transition {a}->{b} goes from a mood to itself")
        if type(self.bars) is not int or self.bars <= 0:
            raise StemsError(f"--bars must be a whole number above 0, got {self.bars!r}")
        if self.bars > 256:
            raise StemsError(f"--bars is limited to 256, got {self.bars}")
        if not 0.0 <= self.intensity <= 1.0:
            raise StemsError(f"--intensity must be in [0, 1], got {self.intensity!r}")
        if self.transition_bars not in TRANSITION_BARS:
            raise StemsError(f"--transition-bars must be 1 or 2, got {self.transition_bars!r}")
        try:
            check_format(self.format)
        except (ValueError, RuntimeError) as exc:
            raise StemsError(str(exc)) from None

    def pairs(self) -> tuple[tuple[str, str], ...]:
        if self.transitions is not None:
            return self.transitions
        names = [n for n, _ in self.moods]
        return tuple((a, b) for a in names for b in names if a != b)

    def params(self) -> dict:
        """The render parameters as the manifest records them."""
        params = {"bars": self.bars, "seed": self.seed, "intensity": self.intensity,
                  "transition_bars": self.transition_bars, "format": self.format,
                  "sample_rate": self.sample_rate, "backend": self.backend}
        if self.backend == "musicgen":
            params |= {"model": self.model, "melody": self.melody}
        return params


def spec_from_map(mood_map: MoodMap, extra_moods: list[str] = (), **params) -> StemsSpec:
    """A spec for every mood and stinger of a map, plus ``NAME=TEXT`` extra moods."""
    moods = list(mood_map.moods.items())
    for item in extra_moods:
        name, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise StemsError(f"--mood takes NAME=TEXT, got {item!r}")
        moods.append((name.strip(), text.strip()))
    return StemsSpec(moods=tuple(moods), stingers=tuple(mood_map.stingers.items()), **params)


def check_output_folder(out: Path) -> None:
    """Raise StemsError unless ``out`` is (or can be made) a writable folder."""
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise StemsError(f"cannot write to {out}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise StemsError(f"cannot write to {out}: permission denied on {probe}")
