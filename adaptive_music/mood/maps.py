"""Mood maps: TOML files that turn game event names into music changes.

A map has four optional tables::

    [defaults]              # transition used by events that don't set one
    quantize = "bar"        # now | beat | bar
    ramp = 2.0              # seconds

    [moods]                 # names a game (or set_mood) may use for mood texts
    explore = "calm pastoral strings, open and curious"

    [stingers]              # names for stinger texts
    discovery = "bright bell flourish"

    [events.boss_phase_2]   # one table per game event
    mood = "..."            # a name from [moods] or a mood text
    quantize = "bar"
    ramp = 4
    intensity = 0.9         # absolute, in [0, 1]
    # intensity_delta = 0.1       added to the current intensity, clamped
    # intensity_param = "danger"  taken from the event's params, in [0, 1]
    stinger = "discovery"   # a name from [stingers] or a stinger text

A map may also name a theme before its tables, ``melody = "theme.ogg"`` (relative to
the map's folder): with a MusicGen-melody checkpoint, ``serve`` conditions all the music
on it, so each mood is a variation of that theme.

Every value is checked at load, mood texts by reading them as
:func:`~adaptive_music.mood.text.parse_mood` does (so a map fails the same way
whichever backend plays); an error names the file, line, table and key.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .text import MoodError, parse_mood

EXAMPLE = Path(__file__).with_name("maps") / "action_adventure.toml"
"""The shipped example map, for a typical action-adventure game."""

QUANTIZE = ("now", "beat", "bar")
MAX_RAMP_SECONDS = 600.0
_EVENT_KEYS = ("mood", "quantize", "ramp", "intensity", "intensity_delta", "intensity_param", "stinger")
_TABLES = ("defaults", "moods", "stingers", "events")


class MoodMapError(ValueError):
    """A mood map is invalid; ``line`` is 1-based, or None where it could not be found."""

    def __init__(self, source: str, line: int | None, where: str, message: str) -> None:
        at = f"{source}:{line}" if line else source
        super().__init__(f"{at}: {where}: {message}" if where else f"{at}: {message}")
        self.source = source
        self.line = line
        self.where = where


@dataclasses.dataclass(frozen=True)
class EventRule:
    """What one game event does. Mood and stinger are resolved to texts."""

    mood: str | None = None
    quantize: str | None = None
    ramp: float | None = None
    intensity: float | None = None
    intensity_delta: float | None = None
    intensity_param: str | None = None
    stinger: str | None = None


@dataclasses.dataclass(frozen=True)
class EventAction:
    """An event resolved against its params: apply each field that is not None."""

    mood: str | None = None
    quantize: str | None = None
    ramp: float | None = None
    intensity: float | None = None
    intensity_delta: float | None = None
    stinger: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def intensity_after(self, current: float) -> float | None:
        """The intensity this action sets when the intensity is ``current`` (a delta is clamped
        to [0, 1]), or None when it leaves the intensity alone."""
        if self.intensity_delta is not None:
            return min(1.0, max(0.0, current + self.intensity_delta))
        return self.intensity


@dataclasses.dataclass(frozen=True)
class MoodMap:
    """A validated mood map. The empty map knows no events."""

    events: Mapping[str, EventRule] = dataclasses.field(default_factory=dict)
    moods: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stingers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    quantize: str = "now"
    ramp: float = 0.0
    melody: Path | None = None
    """The theme file for MusicGen-melody, or None."""

    def mood_text(self, name_or_text: str) -> str:
        """The text of a named mood, or ``name_or_text`` itself."""
        return self.moods.get(name_or_text, name_or_text)

    def stinger_text(self, name_or_text: str) -> str:
        """The text of a named stinger, or ``name_or_text`` itself."""
        return self.stingers.get(name_or_text, name_or_text)

    def resolve(self, name: str, params: Mapping[str, Any] | None = None) -> EventAction:
        """What event ``name`` does given its ``params``.

        Raises KeyError for an unknown event and ValueError for missing or bad params.
        """
        rule = self.events.get(name)
        if rule is None:
            raise KeyError(name)
        intensity = rule.intensity
        if rule.intensity_param is not None:
            value = (params or {}).get(rule.intensity_param)
            if type(value) not in (int, float) or not 0.0 <= value <= 1.0:  # NaN fails too
                raise ValueError(
                    f"event {name!r} takes its intensity from param {rule.intensity_param!r}, "
                    f"a number in [0, 1]; got {value!r:.60}"
                )
            intensity = float(value)
        has_mood = rule.mood is not None
        return EventAction(
            mood=rule.mood,
            quantize=(rule.quantize or self.quantize) if has_mood else None,
            ramp=(self.ramp if rule.ramp is None else rule.ramp) if has_mood else None,
            intensity=intensity,
            intensity_delta=rule.intensity_delta,
            stinger=rule.stinger,
        )


def load_mood_map(path: str | Path) -> MoodMap:
    """Read and validate the TOML mood map at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MoodMapError(str(path), None, "", f"cannot read the mood map ({exc.strerror})") from None
    moods = parse_mood_map(text, str(path))
    if moods.melody is None:
        return moods
    melody = path.parent / moods.melody
    if not melody.is_file():
        _Checker(text, str(path)).fail((), "melody", f"no such file: {melody}")
    return dataclasses.replace(moods, melody=melody)


def parse_mood_map(text: str, source: str = "<mood map>") -> MoodMap:
    """Validate mood map TOML ``text``; ``source`` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_in_message(str(exc))
        raise MoodMapError(source, line, "", f"not valid TOML: {exc}") from None
    check = _Checker(text, source)
    for key in doc:
        if key not in _TABLES and key != "melody":
            check.fail((), key, f"unknown table; a mood map has {', '.join(_TABLES)} (and a melody file)")
    melody = check.string(doc, (), "melody")
    defaults = check.table(doc, ("defaults",))
    for key in defaults:
        if key not in ("quantize", "ramp"):
            check.fail(("defaults",), key, "unknown key; [defaults] has quantize and ramp")
    quantize = check.quantize(defaults, ("defaults",), "now")
    ramp = check.ramp(defaults, ("defaults",), 0.0)
    moods = check.texts(doc, "moods")
    stingers = check.texts(doc, "stingers")
    events = {}
    for name, table in check.table(doc, ("events",)).items():
        where = ("events", name)
        if not isinstance(table, dict):
            check.fail(("events",), name, "must be a table, like [events.NAME] or NAME = { ... }")
        for key in table:
            if key not in _EVENT_KEYS:
                check.fail(where, key, f"unknown key; an event has {', '.join(_EVENT_KEYS)}")
        mood = check.string(table, where, "mood")
        stinger = check.string(table, where, "stinger")
        intensity = check.number(table, where, "intensity", 0.0, 1.0)
        delta = check.number(table, where, "intensity_delta", -1.0, 1.0)
        param = check.string(table, where, "intensity_param")
        if sum(x is not None for x in (intensity, delta, param)) > 1:
            check.fail(where, "intensity", "set only one of intensity, intensity_delta and intensity_param")
        if mood is None and stinger is None and intensity is None and delta is None and param is None:
            check.fail(where, "", "does nothing: set mood, stinger or an intensity key")
        if mood is None and ("quantize" in table or "ramp" in table):
            check.fail(where, "quantize" if "quantize" in table else "ramp", "applies to a mood change, but mood is not set")
        events[name] = EventRule(
            mood=None if mood is None else moods.get(mood, mood),
            quantize=check.quantize(table, where, None),
            ramp=check.ramp(table, where, None),
            intensity=intensity,
            intensity_delta=delta,
            intensity_param=param,
            stinger=None if stinger is None else stingers.get(stinger, stinger),
        )
    # Mood texts are read when the map loads, so a map fails the same way whichever backend plays.
    for name, mood in moods.items():
        check.mood(("moods",), name, mood)
    for name, rule in events.items():
        if rule.mood is not None and rule.mood not in moods.values():
            check.mood(("events", name), "mood", rule.mood)
    return MoodMap(events=events, moods=moods, stingers=stingers, quantize=quantize, ramp=ramp,
                   melody=None if melody is None else Path(melody))


def _line_in_message(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


_HEADER = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


class _Checker:
    """Typed reads from the parsed document; failures name the source line."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def fail(self, table: tuple[str, ...], key: str, message: str) -> None:
        where = "[" + ".".join(table) + "]" if table else ""
        if key:
            where = f"{where} {key}" if where else key
        raise MoodMapError(self.source, self._line(table, key), where, message)

    def _line(self, table: tuple[str, ...], key: str) -> int | None:
        """Best-effort line of ``key`` in ``table`` (a header, or an inline table)."""
        current: tuple[str, ...] = ()
        header_line = None
        for number, line in enumerate(self.lines, 1):
            header = _HEADER.match(line)
            if header:
                current = tuple(_unquote(p) for p in header.group(1).split("."))
                if current == table and not key:
                    return number
                if current == table:
                    header_line = number
                continue
            found = _KEY.match(line)
            if not found:
                continue
            name = _unquote(found.group(1))
            if current == table and name == key:
                return number
            if current + (name,) == table:  # NAME = { ... } inline table
                return number
        return header_line

    def table(self, doc: dict, path: tuple[str, ...]) -> dict:
        value = doc.get(path[-1], {})
        if not isinstance(value, dict):
            self.fail(path[:-1], path[-1], "must be a table")
        return value

    def texts(self, doc: dict, name: str) -> dict[str, str]:
        table = self.table(doc, (name,))
        for key in table:
            self.string(table, (name,), key)
        return dict(table)

    def string(self, table: dict, where: tuple[str, ...], key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(where, key, f"must be a non-empty string, got {value!r}")
        return value

    def mood(self, where: tuple[str, ...], key: str, text: str) -> None:
        try:
            parse_mood(text)
        except MoodError as exc:
            self.fail(where, key, str(exc))

    def number(self, table: dict, where: tuple[str, ...], key: str, lo: float, hi: float) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if type(value) not in (int, float) or not lo <= value <= hi:  # NaN fails too
            self.fail(where, key, f"must be a number in [{lo:g}, {hi:g}], got {value!r}")
        return float(value)

    def quantize(self, table: dict, where: tuple[str, ...], default: str | None) -> str | None:
        value = table.get("quantize", default)
        if value is not default and value not in QUANTIZE:
            self.fail(where, "quantize", f"must be one of {', '.join(QUANTIZE)}, got {value!r}")
        return value

    def ramp(self, table: dict, where: tuple[str, ...], default: float | None) -> float | None:
        if "ramp" not in table:
            return default
        value = table["ramp"]
        if type(value) not in (int, float) or not (0.0 <= value <= MAX_RAMP_SECONDS):
            self.fail(where, "ramp", f"must be a number of seconds in [0, {MAX_RAMP_SECONDS:g}], got {value!r}")
        return float(value)


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part
