"""Offline adaptive stems for shipping builds.

Seamless loops per mood, layers for vertical mixing, transitions between
every pair of moods and stingers, with loop and tempo metadata in the files,
a manifest, MIDI of the score and native players for Godot, Unity and
Python. ``adaptive-music stems`` is the command line; :func:`build_stems`
the Python entry point. The procedural backend renders all of it; a MusicGen
build (:mod:`.musicgen`) has loops, transitions and stingers and says in its manifest
what it lacks.
"""

from .build import build_stems
from .manifest import MANIFEST_NAME, SCHEMA_VERSION, load_manifest
from .player import StemPlayer, play_stems
from .spec import StemsError, StemsSpec, spec_from_map

__all__ = ["MANIFEST_NAME", "SCHEMA_VERSION", "StemPlayer", "StemsError", "StemsSpec", "build_stems",
           "load_manifest", "play_stems", "spec_from_map"]
