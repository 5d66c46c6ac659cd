"""Music theory the composer needs: scales, modes by mood, progressions, voice leading."""

from __future__ import annotations

import itertools

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
SCALE_NAMES = tuple(SCALES)

# Chord progressions as scale degrees (0 = tonic), one chord per bar, by mode.
# Each is a 4-bar phrase; the composer plays it twice per 8-bar phrase.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 3, 0, 4), (0, 5, 3, 4), (5, 3, 0, 4)),
    "lydian": ((0, 1, 0, 1), (0, 1, 4, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 4)),
    "dorian": ((0, 3, 0, 6), (0, 6, 3, 3), (0, 2, 3, 6)),
    "minor": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4)),
    "harmonic_minor": ((0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 1, 4)),
    "phrygian": ((0, 1, 0, 6), (0, 1, 5, 1), (0, 6, 1, 0)),
}


def choose_scale(valence: float, tension: float, arousal: float, brightness: float) -> str:
    """The mode that fits a mood: bright moods major-ish, dark and tense ones minor-ish."""
    if valence > 0.35:
        if brightness > 0.7 and arousal < 0.4:
            return "lydian"
        if arousal > 0.65 and valence < 0.6:
            return "mixolydian"
        return "major"
    if valence > -0.2:
        return "dorian" if tension < 0.55 else "minor"
    if tension > 0.75 and arousal < 0.6:
        return "phrygian"
    if tension > 0.6 and arousal >= 0.6:
        return "harmonic_minor"
    return "minor"


def scale_pitch(root: int, scale: str, degree: int, octave_base: int = 60) -> int:
    """MIDI pitch of a scale degree (any integer; wraps into octaves) above ``octave_base``."""
    steps = SCALES[scale]
    octave, idx = divmod(degree, len(steps))
    return octave_base + root + 12 * octave + steps[idx]


def chord_pitch_classes(root: int, scale: str, degree: int, seventh: bool = False) -> list[int]:
    """Pitch classes of the diatonic triad (or seventh) on ``degree``: root first."""
    n = 4 if seventh else 3
    return [scale_pitch(root, scale, degree + 2 * i, 0) % 12 for i in range(n)]


def nearest_with_pc(target: int, pc: int) -> int:
    """The MIDI pitch with pitch class ``pc`` nearest to ``target``."""
    base = target - ((target - pc) % 12)
    return base if target - base <= 6 else base + 12


def voice_lead(previous: list[int], pcs: list[int], low: int, high: int) -> list[int]:
    """Move each voice to a chord tone with the least total motion.

    The result covers the chord's root, third and fifth, keeps voices in
    [low, high] and in ascending order (no crossing).
    """
    options = []
    for p in previous:
        cands = sorted({nearest_with_pc(p, pc) for pc in pcs}, key=lambda q: abs(q - p))
        cands = [min(high, max(low, q)) for q in cands[:3]]
        options.append(cands)
    best, best_cost = None, None
    need = set(pcs[:3])
    for combo in itertools.product(*options):
        if any(b <= a for a, b in zip(combo, combo[1:])):
            continue
        if not need <= {q % 12 for q in combo}:
            continue
        cost = sum(abs(q - p) for q, p in zip(combo, previous))
        if best_cost is None or cost < best_cost:
            best, best_cost = list(combo), cost
    if best is None:  # fall back to a close-position voicing from the middle of the range
        center = (low + high) // 2
        rootp = nearest_with_pc(center - 6, pcs[0])
        best = [rootp]
        for pc in (pcs[1:] + pcs[:1]) * 2:
            if len(best) == len(previous):
                break
            q = nearest_with_pc(best[-1] + 4, pc)
            while q <= best[-1]:
                q += 12
            best.append(q)
    return best
