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


def step_schedule(
    positions: range, delays: tuple[int, ...], known: list[int], scrap: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which code-buffer rows each decoding step reads and writes, per codebook.

    Buffer row 0 holds the pad/start token and frame ``f`` lives in row ``f + 1``.
    The step feeding delayed position ``p`` reads frame ``p - delay - 1`` (the pad row
    before a codebook starts) and predicts frame ``p - delay``. It writes that frame
    only when it is the codebook's next unknown one (``known[k]`` counts the known
    frames, and is advanced); predictions of known (prompt) codes go to row ``scrap``.
    Returns (read, write), each (steps, K).
    """
    read = np.empty((len(positions), len(delays)), np.int64)
    write = np.full((len(positions), len(delays)), scrap, np.int64)
    for s, p in enumerate(positions):
        for k, d in enumerate(delays):
            read[s, k] = max(p - d - 1, -1) + 1
            if p - d >= 0 and p - d == known[k]:
                write[s, k] = known[k] + 1
                known[k] += 1
    return read, write
