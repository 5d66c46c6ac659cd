"""Loading a backend for a command: the ``--model`` option and one-line errors."""

from __future__ import annotations

import argparse

from .errors import UsageError


def add_model_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="facebook/musicgen-small",
                   help="musicgen: hub id or local folder (default facebook/musicgen-small)")
    p.add_argument("--melody", metavar="FILE",
                   help="musicgen-melody: a theme (audio file) every mood plays a variation of")


def check_melody(args: argparse.Namespace) -> None:
    if args.melody is not None and args.backend != "musicgen":
        raise UsageError("--melody needs --backend musicgen and a MusicGen-melody checkpoint")


def load_musicgen(model: str, melody: str | None = None, loader=None):
    """The MusicGen backend (conditioned on the theme in ``melody``, if given), or a
    UsageError that says what is missing and how to get it. ``loader(model, melody)``
    replaces ``MusicgenModel.load`` (a cached one, say)."""
    try:
        from ..models.musicgen import AudioPromptError, MusicgenLoadError, MusicgenModel
    except ImportError as exc:
        raise UsageError(f"the musicgen backend needs its extra: pip install 'adaptive-music[musicgen]' ({exc})")
    try:
        return loader(model, melody) if loader else MusicgenModel.load(model, melody=melody)
    except (MusicgenLoadError, AudioPromptError) as exc:
        raise UsageError(str(exc)) from None
