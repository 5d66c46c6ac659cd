"""Frozen stream configuration: every length is validated against the rates."""

from __future__ import annotations

import dataclasses
import math

_EPS = 1e-6


def _whole(value: float, name: str, unit: str) -> int:
    n = round(value)
    if abs(value - n) > _EPS:
        raise ValueError(f"{name} must be a whole number of {unit}, got {value:g}")
    return int(n)


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    """How the streaming engine windows a backend's tokens.

    Tokens accumulate in a *window* of at most ``window_seconds``. Each
    generation step appends ``hop_seconds`` of tokens. When the window is
    full it rolls: the next window is prompted with the last
    ``context_seconds`` of tokens (audio continuation). Each step's audio is
    decoded with ``crossfade_seconds`` of overlap and stitched to the last.

    All lengths must be whole numbers of frames, and a frame a whole number
    of samples, so that seams fall on exact samples.
    """

    sample_rate: int = 32000
    """Backend (model) sample rate in Hz."""
    frame_rate: float = 50.0
    """Backend token frames per second."""
    window_seconds: float = 8.0
    context_seconds: float = 4.0
    hop_seconds: float = 0.2
    crossfade_seconds: float = 0.02
    control_seconds: float | None = None
    """Live mood changes are picked up between generation calls this long
    (at most ``hop_seconds``; default 0.1 s or the hop if shorter), so a
    long hop does not delay them."""
    output_sample_rate: int = 48000
    channels: int = 2
    """Output channels, whatever the backend decodes: mono backends (most MusicGen
    checkpoints) are spread to both, stereo ones mixed down for mono output."""
    block_size: int = 1024
    """Samples per block yielded at the output rate."""

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.output_sample_rate <= 0:
            raise ValueError("sample rates must be positive")
        if not (self.frame_rate > 0 and math.isfinite(self.frame_rate)):
            raise ValueError("frame_rate must be positive")
        _whole(self.sample_rate / self.frame_rate, "samples per frame", "samples")
        for name in ("window_seconds", "context_seconds", "hop_seconds", "crossfade_seconds", "control_seconds"):
            value = getattr(self, name)
            if value is None:
                continue
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite, non-negative number")
            _whole(value * self.frame_rate, name, f"frames at {self.frame_rate:g} Hz")
        if self.hop_frames < 1:
            raise ValueError("hop_seconds must be at least one frame")
        if not 1 <= self.control_frames <= self.hop_frames:
            raise ValueError("control_seconds must be between one frame and hop_seconds")
        if self.crossfade_frames > self.hop_frames:
            raise ValueError("crossfade_seconds must not exceed hop_seconds")
        if self.crossfade_frames > self.context_frames:
            raise ValueError("crossfade_seconds must not exceed context_seconds")
        if self.context_frames + self.hop_frames > self.window_frames:
            raise ValueError("window_seconds must hold context_seconds + hop_seconds")
        if self.channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        if self.block_size < 16:
            raise ValueError("block_size must be at least 16 samples")

    @property
    def samples_per_frame(self) -> int:
        return round(self.sample_rate / self.frame_rate)

    @property
    def window_frames(self) -> int:
        return round(self.window_seconds * self.frame_rate)

    @property
    def context_frames(self) -> int:
        return round(self.context_seconds * self.frame_rate)

    @property
    def hop_frames(self) -> int:
        return round(self.hop_seconds * self.frame_rate)

    @property
    def control_frames(self) -> int:
        if self.control_seconds is None:
            return max(1, min(self.hop_frames, round(0.1 * self.frame_rate)))
        return round(self.control_seconds * self.frame_rate)

    @property
    def crossfade_frames(self) -> int:
        return round(self.crossfade_seconds * self.frame_rate)

    def replace(self, **changes: object) -> "StreamConfig":
        return dataclasses.replace(self, **changes)
