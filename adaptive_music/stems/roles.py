"""Layers for vertical mixing: the procedural backend's tracks grouped by role,
and the intensity at which the composer brings each role in."""

from __future__ import annotations

import numpy as np

from ..models.procedural.tokens import TRACK

ROLES: dict[str, tuple[int, ...]] = {
    "harmony": tuple(TRACK[f"pad{i}"] for i in range(4)),
    "bass": (TRACK["bass"],),
    "arpeggio": (TRACK["arp"], TRACK["bells"]),
    "melody": (TRACK["lead"],),
    "drums": (TRACK["kick"], TRACK["snare"], TRACK["hat"], TRACK["perc"]),
}
"""Layer name -> token tracks. Every note track belongs to exactly one role,
so the layers of a render sum to the full mix."""

INTENSITY_GRID = tuple(round(0.05 * i, 2) for i in range(21))


def active_roles(tokens: np.ndarray) -> list[str]:
    """Roles with at least one note in ``tokens``, in ROLES order."""
    return [role for role, tracks in ROLES.items() if np.any(tokens[:, list(tracks)])]


def entry_intensities(active_at: dict[float, list[str]]) -> dict[str, float]:
    """The lowest intensity at which each role plays, from ``{intensity: active roles}``."""
    out: dict[str, float] = {}
    for intensity in sorted(active_at):
        for role in active_at[intensity]:
            out.setdefault(role, intensity)
    return out


def sum_error_db(reference: np.ndarray, parts: list[np.ndarray]) -> float:
    """How far ``parts`` sum from ``reference``: the worst sample's error in dB of the reference's peak."""
    error = np.abs(sum(parts) - reference).max()
    return float(20 * np.log10(max(error, 1e-12) / np.abs(reference).max()))
