"""Audio for a mood's score: seamless loops, layers, transition parts and stingers.

Everything is linear after composition (notes are summed into track buses,
the reverb is a linear network with the mood's fixed settings, the master
is one fixed gain per mood), so layers rendered from disjoint tracks sum to
the full mix, and a loop is exact: the notes of one pass are rendered with
their release and reverb tails, and the tails are folded back onto the
loop's start, which is what a listener hears on the second and later passes.
"""

from __future__ import annotations

import math

import numpy as np

from ..audio.measures import integrated_loudness
from ..engine.master import leveling_gain_db
from ..models.procedural import ProceduralModel
from ..models.procedural.stingers import render_stinger
from ..models.procedural.synth import Synth
from .score import MoodScore

TAIL_SECONDS = 12.0
"""How long notes and reverb ring on after the last onset that matters.
The longest note (a held bar at 60 bpm) plus its release end within 7 s and
the longest reverb (3.6 s to fall 60 dB) takes the rest below -90 dB."""

PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS: headroom for the lossy codec's overshoot


class ScoreRenderer:
    """Renders spans of a score's notes, dry or through the mood's reverb."""

    def __init__(self, model: ProceduralModel):
        self.model = model
        self.spf = model.spf
        self.synth = Synth(model.sample_rate, model.spf, model.channels)

    def dry(self, tokens: np.ndarray, start: int, length: int) -> np.ndarray:
        """Samples [start, start + length) of the notes in ``tokens`` (frames from 0)."""
        f0 = start // self.spf
        f1 = math.ceil((start + length) / self.spf)
        if len(tokens) < f1:
            tokens = np.concatenate([tokens, np.zeros((f1 - len(tokens), tokens.shape[1]), tokens.dtype)])
        audio = self.synth.render(tokens[:f1], 0, f0)
        return audio[start - f0 * self.spf : start - f0 * self.spf + length]

    def wet(self, score: MoodScore, tokens: np.ndarray, start: int, length: int) -> np.ndarray:
        """As :meth:`dry`, through a fresh reverb that starts silent at ``start``."""
        dry = self.dry(tokens, start, length)
        padded = np.zeros((math.ceil(length / self.spf) * self.spf, dry.shape[1]), np.float32)
        padded[:length] = dry
        return self.model.effects().process(padded, score.condition, 0)[:length]

    def loop(self, score: MoodScore, tracks: tuple[int, ...] | None = None) -> np.ndarray:
        """The seamless loop of ``tracks`` (all when None), tails folded onto its start."""
        tokens = score.select(score.loop_start, score.loop_end, tracks)
        tail = int(TAIL_SECONDS * score.sample_rate)
        rung = self.wet(score, tokens, score.loop_start, score.loop_samples + tail)
        return fold(rung, score.loop_samples)

    def outro(self, score: MoodScore, length: int, continuation: bool) -> np.ndarray:
        """``length`` samples from the loop's end: the loop's last notes ringing on,
        plus the continuation bar the composer plays next when ``continuation``."""
        lead = int(TAIL_SECONDS * score.sample_rate)
        end = score.loop_end + (score.bar_samples if continuation else 0)
        tokens = score.select(score.loop_end - lead, end)
        return self.wet(score, tokens, score.loop_end - lead, lead + length)[lead:]

    def lead_in(self, score: MoodScore) -> np.ndarray:
        """The bar the composer plays before the loop's first bar (the phrase's cadence)."""
        start = score.loop_start - score.bar_samples
        return self.wet(score, score.select(start, score.loop_start), start, score.bar_samples)

    def stinger(self, score: MoodScore, text: str) -> np.ndarray:
        """A stinger in the mood's key and tempo, through its reverb, trimmed after it rings out."""
        dry = np.asarray(render_stinger(text, score.root, score.scale, score.bpm, score.sample_rate))
        if self.model.channels == 1:
            dry = dry.mean(axis=1, keepdims=True)
        n = len(dry) + int(3.0 * score.sample_rate)
        padded = np.zeros((math.ceil(n / self.spf) * self.spf, dry.shape[1]), np.float32)
        padded[: len(dry)] = dry
        wet = self.model.effects().process(padded, score.condition, 0)
        loud = np.flatnonzero(np.abs(wet).max(axis=1) > 10 ** (-80 / 20))
        end = int(loud[-1]) + 1 if loud.size else len(dry)
        return np.ascontiguousarray(wet[:end])


def fold(audio: np.ndarray, period: int) -> np.ndarray:
    """Sum ``audio`` onto itself modulo ``period`` samples: a loop heard in steady state."""
    out = np.zeros((period, audio.shape[1]), np.float32)
    for start in range(0, len(audio), period):
        piece = audio[start : start + period]
        out[: len(piece)] += piece
    return out


def master_gain(mix: np.ndarray, sample_rate: int, peaks: list[float]) -> float:
    """One fixed gain for everything of a mood: the live leveler's correction
    (``leveling_gain_db``), and never above the peak ceiling of any part."""
    loudness = integrated_loudness(mix, sample_rate)
    gain_db = leveling_gain_db(loudness) if math.isfinite(loudness) else 0.0
    gain = 10 ** (gain_db / 20)
    peak = max(peaks) if peaks else 0.0
    if peak * gain > PEAK_CEILING:
        gain = PEAK_CEILING / peak
    return gain
