"""Render from the page, offline, as a WAV or OGG file: the music the studio has played so
far, or a script of game events.

The live soundtrack keeps every control call with its stream position
(``record_controls``); rendering them on a fresh generator reproduces what was
heard sample for sample (:func:`~adaptive_music.playback.feed.render_controls`),
without the pauses, which hold the stream. A script's events become the control
calls the bridge makes for them, at the script's positions.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..models.base import Mood
from ..mood.maps import MoodMap
from ..playback.feed import Control, render_controls
from ..playback.soundtrack import INTENSITY_RAMP, Soundtrack

FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg"}
"""Download formats and their media types: WAV is float32 (exact), OGG is Vorbis."""
MAX_SECONDS = 600.0
"""The longest render: of a longer session, the first ten minutes (the response says how long)."""
MAX_SCRIPT_EVENTS = 1000


class Timeline:
    """What a live soundtrack has played: its control calls so far, and their offline render."""

    def __init__(self, soundtrack: Soundtrack) -> None:
        self.soundtrack = soundtrack
        self.sample_rate: int = soundtrack.config.output_sample_rate

    def heard_frames(self, max_seconds: float = MAX_SECONDS) -> int:
        """Frames of the stream heard so far (pauses hold it), at most ``max_seconds`` of them."""
        return min(round(self.soundtrack.playback.playhead * self.sample_rate), round(max_seconds * self.sample_rate))

    def controls(self, frames: int | None = None) -> list[Control]:
        """The control calls applied before stream frame ``frames`` (default: those heard so far)."""
        end = self.heard_frames() if frames is None else frames
        return [c for c in self.soundtrack.controls() if c.position < end]

    def render(self, max_seconds: float = MAX_SECONDS) -> np.ndarray:
        """The stream heard so far (at most ``max_seconds``), rendered offline: sample for sample what played."""
        frames = self.heard_frames(max_seconds)
        if frames <= 0:
            raise ValueError("nothing has been played yet")
        return render_controls(self.soundtrack.spec.build(), self.controls(frames), frames)

    def describe(self) -> dict:
        """The timeline as JSON: seconds heard, and each control call with its stream position."""
        frames = self.heard_frames()
        return {"sample_rate": self.sample_rate, "seconds": frames / self.sample_rate,
                "controls": [{"position": c.position, "seconds": c.position / self.sample_rate, "method": c.method,
                              "args": list(c.args)} for c in self.controls(frames)]}


def parse_script(text: str, max_seconds: float = MAX_SECONDS) -> list[tuple[float, str]]:
    """``SECONDS EVENT`` lines (blank lines and ``#`` comments skipped), sorted by time.

    Raises ValueError naming the line of a malformed one.
    """
    script = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        at, _, name = line.partition(" ")
        try:
            seconds = float(at)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 <= seconds < max_seconds) or not name.strip():
            raise ValueError(f"script line {number}: write SECONDS EVENT, with 0 <= SECONDS < {max_seconds:g}; "
                             f"got {line!r:.80}")
        script.append((seconds, name.strip()))
        if len(script) > MAX_SCRIPT_EVENTS:
            raise ValueError(f"a script has at most {MAX_SCRIPT_EVENTS} events")
    return sorted(script, key=lambda event: event[0])


def script_controls(moods: MoodMap, script: list[tuple[float, str]], sample_rate: int,
                    intensity: float = Mood("").intensity) -> list[Control]:
    """The control calls a live soundtrack gets when the bridge receives ``script``'s events
    (``(seconds, event name)``) at those stream positions, from ``intensity``.

    Raises ValueError for an event the map does not know or cannot resolve without params.
    """
    controls = []
    for seconds, name in script:
        try:
            action = moods.resolve(name)
        except KeyError:
            raise ValueError(f"event {name!r:.60} is not in the mood map") from None
        position = round(seconds * sample_rate)
        if action.mood is not None:
            controls.append(Control(position, "set_mood", (action.mood, action.quantize, float(action.ramp or 0.0))))
        after = action.intensity_after(intensity)
        if after is not None:
            intensity = after
            controls.append(Control(position, "set_intensity", (intensity, INTENSITY_RAMP)))
        if action.stinger is not None:
            controls.append(Control(position, "stinger", (action.stinger,)))
    return controls


def encode(audio: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """``audio`` as the bytes of a ``fmt`` file (one of :data:`FORMATS`)."""
    import soundfile

    out = io.BytesIO()
    if fmt == "wav":
        soundfile.write(out, audio, sample_rate, format="WAV", subtype="FLOAT")
    elif fmt == "ogg":
        soundfile.write(out, audio, sample_rate, format="OGG", subtype="VORBIS")
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r:.20}")
    return out.getvalue()
