"""Render from the page: the music the studio has played so far, offline, as a WAV or OGG file.

The live soundtrack keeps every control call with its stream position
(``record_controls``); rendering them on a fresh generator reproduces what was
heard sample for sample (:func:`~adaptive_music.playback.feed.render_controls`),
without the pauses, which hold the stream.
"""

from __future__ import annotations

import io

import numpy as np

from ..playback.feed import render_controls
from ..playback.soundtrack import Soundtrack

FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg"}
"""Download formats and their media types: WAV is float32 (exact), OGG is Vorbis."""
MAX_SECONDS = 600.0
"""The longest render: of a longer session, the first ten minutes (the response says how long)."""


def played_so_far(soundtrack: Soundtrack, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """What ``soundtrack`` has played up to its playhead (at most ``max_seconds``), and its sample rate."""
    rate = soundtrack.config.output_sample_rate
    frames = min(round(soundtrack.playback.playhead * rate), round(max_seconds * rate))
    if frames <= 0:
        raise ValueError("nothing has been played yet")
    controls = [c for c in soundtrack.controls() if c.position < frames]
    return render_controls(soundtrack.spec.build(), controls, frames), rate


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
