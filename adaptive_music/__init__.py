"""adaptive-music: real-time adaptive soundtracks for games.

The public API::

    from adaptive_music import Soundtrack            # live playback, steered by the game
    from adaptive_music import render, MoodChange    # offline rendering
    from adaptive_music import StreamingGenerator    # blocks of audio, for your own mixer
    from adaptive_music import build_stems, StemsSpec # offline stems for shipping builds
"""

from __future__ import annotations

from .config import StreamConfig
from .engine.stream import Rendered, StreamingGenerator, render
from .engine.timeline import MoodChange
from .models import BACKENDS, load_backend
from .models.base import GeneratorState, Marker, Model, Mood
from .mood.params import MoodParams
from .mood.text import MoodError, explain_mood, parse_mood
from .models.procedural.soundfont import SoundFontError, find_soundfont

__version__ = "0.1.0"

__all__ = [
    "BACKENDS", "Client", "EngineOutput", "EngineStream", "GeneratorState", "Marker", "Model", "Mood", "MoodChange", "MoodError",
    "MoodParams", "Rendered", "Soundtrack", "StreamConfig", "StreamingGenerator", "explain_mood",
    "load_backend", "parse_mood", "render",
    "StemPlayer", "StemsSpec", "build_stems",
]
__all__ += ["SoundFontError", "find_soundfont"]  # sampled instruments (issue 15)


def __getattr__(name: str):
    # Imported on first use: playback needs PortAudio, the bridge needs ZeroMQ.
    if name == "Soundtrack":
        from .playback.soundtrack import Soundtrack

        return Soundtrack
    if name == "EngineOutput":  # for a Soundtrack that a game engine pulls (serve --output engine)
        from .playback.engine_output import EngineOutput

        return EngineOutput
    if name == "EngineStream":
        from .bridge.client import EngineStream

        return EngineStream
    if name in ("StemPlayer", "StemsSpec", "build_stems"):
        from . import stems

        return getattr(stems, name)
    if name == "Client":
        from .bridge.client import Client

        return Client
    raise AttributeError(f"module 'adaptive_music' has no attribute {name!r}")
