"""Seam stitching: crossfade the overlap between consecutive decoded windows."""

from __future__ import annotations

import numpy as np


def stitch(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Crossfade ``tail`` (the end of the previous window) into ``head`` (the
    same samples decoded again with the next window).

    The fade is equal-power for the signals' actual correlation ρ: gains
    a, b follow a² + b² + 2ρab = 1. For uncorrelated overlaps that is the
    classic equal-power fade; for identical ones it is a plain linear fade,
    so a decoder that repeats itself exactly leaves the audio untouched.
    """
    if tail.shape != head.shape:
        raise ValueError(f"overlap shapes differ: {tail.shape} vs {head.shape}")
    n = tail.shape[0]
    if n == 0:
        return head.copy()
    num = float(np.sum(tail * head, dtype=np.float64))
    den = float(np.sqrt(np.sum(tail * tail, dtype=np.float64) * np.sum(head * head, dtype=np.float64)))
    rho = min(1.0, max(0.0, num / den)) if den > 0 else 1.0
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    k = 1.0 / np.sqrt((1 - t) ** 2 + t ** 2 + 2 * rho * t * (1 - t))
    a = ((1 - t) * k).astype(np.float32)[:, None]
    b = (t * k).astype(np.float32)[:, None]
    return tail * a + head * b
