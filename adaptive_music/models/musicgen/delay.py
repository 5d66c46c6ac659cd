"""MusicGen's codebook delay pattern.

The decoder reads and writes a *delayed* sequence: at delayed position ``p``
codebook ``k`` holds frame ``p - delay[k] - 1`` (position 0 is the start
token, and positions before a codebook's first frame hold the pad token).
Mono checkpoints delay codebook ``k`` by ``k``; stereo checkpoints interleave
left/right codebooks, so pair ``(2c, 2c + 1)`` is delayed by ``c``.
"""

from __future__ import annotations

import numpy as np


def codebook_delays(num_codebooks: int, audio_channels: int) -> tuple[int, ...]:
    """Delay, in steps, of each codebook."""
    if audio_channels == 2:
        return tuple(k // 2 for k in range(num_codebooks))
    return tuple(range(num_codebooks))


def apply_delay(codes: np.ndarray, delays: tuple[int, ...], pad: int) -> np.ndarray:
    """Delayed sequence for undelayed ``codes`` (frames, K): shape (frames + max_delay + 1, K),
    start token at position 0, ``pad`` where a codebook has no frame."""
    frames, k = codes.shape
    out = np.full((frames + max(delays) + 1, k), pad, dtype=np.int64)
    for book, d in enumerate(delays):
        out[d + 1 : d + 1 + frames, book] = codes[:, book]
    return out


def undo_delay(delayed: np.ndarray, delays: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`apply_delay`: the complete frames of a delayed sequence."""
    frames = delayed.shape[0] - max(delays) - 1
    return np.stack(
        [delayed[d + 1 : d + 1 + frames, book] for book, d in enumerate(delays)], axis=1
    ).astype(np.int64)
