"""Errors the MusicGen backend raises for bad input, each meant to be shown as one line."""

from __future__ import annotations


class MusicgenLoadError(RuntimeError):
    """A checkpoint is missing, incomplete, or not a MusicGen checkpoint."""


class AudioPromptError(ValueError):
    """An audio prompt or melody file cannot be read or holds no audio."""
