"""Backends behind one model interface (see :mod:`adaptive_music.models.base`)."""

from __future__ import annotations

from .base import Blend, GeneratorState, Marker, Model, Mood

BACKENDS = ("procedural", "musicgen")


def load_backend(name: str = "procedural", **options) -> Model:
    """Create a backend by name.

    ``procedural`` takes no weights. ``musicgen`` takes ``model`` (a hub id or
    a local folder) and needs the ``musicgen`` extra installed.
    """
    if name == "procedural":
        from .procedural import ProceduralModel

        return ProceduralModel(**options)
    if name == "musicgen":
        from .musicgen import MusicgenModel

        return MusicgenModel.load(**options)
    raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Blend", "GeneratorState", "Marker", "Model", "Mood", "load_backend"]
