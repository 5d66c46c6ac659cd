"""Loading a backend for a command: the ``--model`` option and one-line errors."""

from __future__ import annotations

import argparse

from .errors import UsageError


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="facebook/musicgen-small",
                   help="musicgen: hub id or local folder (default facebook/musicgen-small)")


def load_musicgen(model: str):
    """The MusicGen backend, or a UsageError that says what is missing and how to get it."""
    try:
        from ..models.musicgen import MusicgenLoadError, MusicgenModel
    except ImportError as exc:
        raise UsageError(f"the musicgen backend needs its extra: pip install 'adaptive-music[musicgen]' ({exc})")
    try:
        return MusicgenModel.load(model)
    except MusicgenLoadError as exc:
        raise UsageError(str(exc)) from None
