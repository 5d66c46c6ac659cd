"""One mood's composed material for offline stems: tokens on an exact bar grid.

The procedural composer plays ``lead_in`` warm-up bars, then the loop's
``bars``, then one more bar (the continuation a transition starts with).
The tempo is nudged (by less than 0.02 bpm at usual tempi) so that a
sixteenth is a whole number of samples: then every bar line falls on an
exact sample and loops, transitions and stingers line up sample for sample.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..models.procedural import ProceduralCondition, ProceduralModel
from ..models.procedural.tokens import TRACK, unpack_beat, unpack_notes
from ..mood.text import parse_mood

LEAD_IN_BARS = 8
"""Warm-up bars before the loop: a whole 8-bar phrase, so the loop starts on a
phrase start and (for a multiple of 8 bars) ends on the phrase's half cadence."""


@dataclasses.dataclass(frozen=True)
class MoodScore:
    """Tokens of one mood, frames from 0, and the grid they were composed on."""

    name: str
    text: str
    intensity: float
    seed: int
    sample_rate: int
    bars: int
    bpm: float
    beats_per_bar: int
    step_samples: int
    root: int
    scale: str
    tokens: np.ndarray
    samples_per_frame: int
    condition: ProceduralCondition = dataclasses.field(repr=False, compare=False)

    @property
    def bar_samples(self) -> int:
        return 4 * self.beats_per_bar * self.step_samples

    @property
    def loop_start(self) -> int:
        """Sample (in the composed stream) where the loop's first bar starts."""
        return LEAD_IN_BARS * self.bar_samples

    @property
    def loop_samples(self) -> int:
        return self.bars * self.bar_samples

    @property
    def loop_end(self) -> int:
        return self.loop_start + self.loop_samples

    def onsets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every note token's (row, track) index into ``tokens`` and its onset sample."""
        rows, cols = np.nonzero(self.tokens[:, 1:])
        cols = cols + 1
        offsets = unpack_notes(self.tokens[rows, cols])["offset"]
        return rows, cols, rows * self.samples_per_frame + offsets

    def select(self, start: int, end: int, tracks: tuple[int, ...] | None = None) -> np.ndarray:
        """Tokens of the notes starting in [start, end) on ``tracks`` (all when None); others zeroed."""
        rows, cols, samples = self.onsets()
        keep = (samples >= start) & (samples < end)
        if tracks is not None:
            keep &= np.isin(cols, tracks)
        out = np.zeros_like(self.tokens)
        out[rows[keep], cols[keep]] = self.tokens[rows[keep], cols[keep]]
        return out


def quantized_tempo(bpm: float, sample_rate: int) -> tuple[float, int]:
    """(tempo, samples per sixteenth): the nearest tempo whose sixteenth is whole samples."""
    step = max(1, round(60.0 / bpm / 4.0 * sample_rate))
    return 60.0 * sample_rate / (4.0 * step), step


def compose_score(name: str, text: str, *, intensity: float, bars: int, seed: int,
                  model: ProceduralModel) -> MoodScore:
    """Compose the lead-in, the loop and one continuation bar of mood ``text``."""
    if bars < 1:
        raise ValueError(f"bars must be at least 1, got {bars}")
    params = parse_mood(text)
    bpm, step = quantized_tempo(params.tempo, model.sample_rate)
    condition = ProceduralCondition(text, dataclasses.replace(params, tempo=bpm), intensity)
    spf = model.spf
    # Enough frames for the longest meter (4/4); the composer decides the meter at bar 0.
    total = (LEAD_IN_BARS + bars + 1) * 16 * step
    state = model.initial_state(model.default_config(), seed)
    tokens, state = model.generate(state, condition, math.ceil(total / spf) + 1, seed)
    beats = [unpack_beat(int(c)) for c in tokens[:, TRACK["control"]] if c]
    first = beats[0]
    return MoodScore(name=name, text=text, intensity=intensity, seed=seed, sample_rate=model.sample_rate,
                     bars=bars, bpm=bpm, beats_per_bar=first.beats_per_bar, step_samples=step,
                     root=first.root, scale=first.scale, tokens=tokens, samples_per_frame=spf,
                     condition=condition)


__all__ = ["LEAD_IN_BARS", "MoodScore", "compose_score", "quantized_tempo"]
