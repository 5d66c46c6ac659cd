"""The model interface every backend implements, and the generator state.

A backend turns a condition into discrete tokens, a window at a time, and
decodes tokens to audio. The streaming engine (``adaptive_music.engine``)
drives any backend through this interface; it never looks inside tokens.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Hashable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from ..config import StreamConfig


@dataclasses.dataclass(frozen=True)
class Mood:
    """What the music should express: a text mood and an intensity in [0, 1]."""

    text: str
    intensity: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError("mood text must be a string")
        check_intensity(self.intensity)


def check_intensity(value: float) -> float:
    """Return ``value`` as a float, or raise ValueError naming the range [0, 1]."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"intensity must be a number in [0, 1], got {value!r}") from None
    if not (0.0 <= x <= 1.0):  # also rejects NaN
        raise ValueError(f"intensity must be in [0, 1], got {value!r}")
    return x


@dataclasses.dataclass(frozen=True)
class Blend:
    """A ramp from ``source`` to ``target`` over absolute frames [start, end).

    ``source`` may itself be a Blend (a ramp interrupted by a newer one).
    The weight of ``target`` at frame f is ``clip((f - start) / (end - start))``,
    so a ramp is the same however the frames are split into calls.
    """

    source: Any
    target: Any
    start: int
    end: int

    def weight(self, frame: float) -> float:
        if self.end <= self.start:
            return 1.0 if frame >= self.start else 0.0
        return float(min(1.0, max(0.0, (frame - self.start) / (self.end - self.start))))


def blend_weights(condition: Any, frame: float) -> list[tuple[Any, float]]:
    """Flatten a (possibly nested) Blend at ``frame`` into base conditions and weights.

    Weights are positive and sum to 1; equal base conditions are merged.
    """
    out: dict[int, list] = {}

    def walk(c: Any, w: float) -> None:
        if w <= 1e-9:
            return
        if isinstance(c, Blend):
            t = c.weight(frame)
            walk(c.source, w * (1.0 - t))
            walk(c.target, w * t)
        else:
            key = id(c) if not isinstance(c, Hashable) else hash(c)
            if key in out and out[key][0] == c:
                out[key][1] += w
            else:
                out.setdefault(key, [c, 0.0])[1] += w

    walk(condition, 1.0)
    return [(c, w) for c, w in out.values()]


@dataclasses.dataclass(frozen=True)
class GeneratorState:
    """Everything a backend needs to continue: serialisable, never mutated.

    ``tokens`` holds the frames of the current window, shape (frames, tracks);
    ``frame`` is the absolute index of the frame after the last token.
    ``data`` holds backend-specific arrays and plain values.
    ``cache`` holds derived, rebuildable objects (a KV cache) that are not
    serialised; a backend must work when it is empty.
    """

    tokens: np.ndarray
    frame: int = 0
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cache: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def to_bytes(self) -> bytes:
        """Serialise to safetensors bytes (arrays) with JSON metadata (the rest)."""
        from safetensors.numpy import save

        arrays = {"tokens": np.ascontiguousarray(self.tokens)}
        plain = {}
        for key, value in self.data.items():
            if isinstance(value, np.ndarray):
                arrays[f"data.{key}"] = np.ascontiguousarray(value)
            else:
                plain[key] = value
        meta = {"frame": str(self.frame), "data": json.dumps(plain, sort_keys=True)}
        return save(arrays, metadata=meta)

    @classmethod
    def from_bytes(cls, blob: bytes) -> "GeneratorState":
        from safetensors.numpy import load

        arrays = load(blob)
        # Metadata lives in the JSON header: 8-byte little-endian length, then JSON.
        header_len = int.from_bytes(blob[:8], "little")
        meta = json.loads(blob[8 : 8 + header_len]).get("__metadata__", {})
        data: dict[str, Any] = json.loads(meta.get("data", "{}"))
        for key, value in arrays.items():
            if key.startswith("data."):
                data[key[5:]] = value
        return cls(tokens=arrays["tokens"], frame=int(meta.get("frame", 0)), data=data)

    def replace(self, **changes: Any) -> "GeneratorState":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Marker:
    """A musical grid point: a beat at ``sample`` (backend rate, absolute)."""

    sample: int
    bar: int
    beat: int
    """Beat within the bar, from 0."""
    beats_per_bar: int
    bpm: float
    root: int = 0
    """Pitch class of the key's tonic (0 = C)."""
    scale: str = "major"


@runtime_checkable
class Effect(Protocol):
    """A stateful audio stage after stitching (for example reverb)."""

    def process(self, audio: np.ndarray, condition: Any, frame: int) -> np.ndarray: ...


@runtime_checkable
class Model(Protocol):
    """The interface every backend implements."""

    name: str
    sample_rate: int
    frame_rate: float
    channels: int
    """Channels of the audio :meth:`decode` returns (the stream's output may differ)."""

    def default_config(self) -> StreamConfig:
        """Stream lengths that suit this backend."""

    def condition(self, mood: Mood) -> Any:
        """Turn a mood into this backend's (hashable) condition."""

    def initial_state(self, config: StreamConfig, seed: int) -> GeneratorState:
        """A state with an empty window, ready to generate."""

    def generate(
        self, state: GeneratorState, condition: Any, n_frames: int, seed: int
    ) -> tuple[np.ndarray, GeneratorState]:
        """Continue ``state`` by ``n_frames`` frames of tokens under ``condition``.

        ``condition`` is a backend condition or a :class:`Blend` of them.
        Returns the new tokens, shape (n_frames, tracks), and the new state,
        whose window ends with them.
        """

    def decode(self, tokens: np.ndarray, state: GeneratorState) -> np.ndarray:
        """Audio for ``tokens``, which follow ``state.tokens`` (their left context).

        Returns float32 of shape (len(tokens) * samples_per_frame, channels).
        """

    def roll(self, state: GeneratorState, keep_frames: int) -> GeneratorState:
        """Start a new window prompted with the last ``keep_frames`` frames."""

    def markers(self, tokens: np.ndarray, state: GeneratorState) -> Sequence[Marker]:
        """Beats that start within ``tokens`` (which follow ``state``); empty if unknown."""

    def next_boundary(self, state: GeneratorState, unit: str) -> int | None:
        """First sample at or after the end of ``state`` where a ``unit``
        ('beat' or 'bar') starts, or None where the backend has no grid."""

    def effects(self) -> Effect | None:
        """A fresh post-stitch effect for one stream, or None."""
