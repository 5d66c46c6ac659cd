"""Render from the page: the music the studio has played so far, offline, as a WAV or OGG file.

The live soundtrack keeps every control call with its stream position
(``record_controls``); rendering them on a fresh generator reproduces what was
heard sample for sample (:func:`~adaptive_music.playback.feed.render_controls`),
without the pauses, which hold the stream.
"""

from __future__ import annotations

import io

import numpy as np

from ..playback.feed import Control, render_controls
from ..playback.soundtrack import Soundtrack

FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg"}
"""Download formats and their media types: WAV is float32 (exact), OGG is Vorbis."""
MAX_SECONDS = 600.0
"""The longest render: of a longer session, the first ten minutes (the response says how long)."""


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
