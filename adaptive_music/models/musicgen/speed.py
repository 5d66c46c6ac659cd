"""Measuring whether a backend keeps up with real time on this hardware."""

from __future__ import annotations

import time

from ...config import StreamConfig
from ..base import Model, Mood


def measure_rtf(model: Model, config: StreamConfig, seconds: float = 2.0, mood: Mood | None = None) -> float:
    """Real-time factor (seconds of audio per second of work) of generating and decoding
    about ``seconds`` of audio hop by hop, as the engine does. Above 1 keeps up.

    The first hop (which pays for setup and the condition's encoding) is not timed.
    """
    condition = model.condition(mood or Mood("ambient"))
    state = model.initial_state(config, seed=0)
    hops = max(1, round(seconds / config.hop_seconds))
    elapsed = 0.0
    for i in range(hops + 1):
        started = time.perf_counter()
        tokens, after = model.generate(state, condition, config.hop_frames, seed=i)
        model.decode(tokens, state)
        if i:
            elapsed += time.perf_counter() - started
        state = after
    return hops * config.hop_seconds / elapsed
