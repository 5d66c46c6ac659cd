"""How cleanly a loop wraps: the jump and the spectral flux where its end meets its start,
against the loop's own distributions."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..audio.measures import seam_report, spectral_flux


@dataclasses.dataclass(frozen=True)
class LoopSeam:
    jump: float
    """|x[0] - x[-1]|, the largest over channels."""
    jump_p999: float
    """99.9th percentile of the loop's own sample-to-sample jumps."""
    bar_line_jump: float
    """The largest jump onto the loop's other bar lines, where the same downbeat onsets start."""
    flux: float
    """Spectral flux of the frame that starts on the wrap (a downbeat, so it holds onsets)."""
    flux_max: float
    """The largest flux elsewhere in the loop (played twice, so every frame sees music before it)."""
    flux_percentile: float
    """Share of the loop's frames whose flux is below the wrap's, in percent."""

    @property
    def within(self) -> bool:
        """The wrap jumps no further than the loop's 99.9th percentile, or (within 2%, the tails
        ringing under the hit differ) than onto its own other bar lines: a drum hit on the
        downbeat is among a drum layer's largest jumps wherever it falls. And its flux stays
        within the loop's range."""
        jump_ok = self.jump <= max(self.jump_p999, 1.02 * self.bar_line_jump)
        return jump_ok and self.flux <= self.flux_max

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "within": self.within}


def loop_seam(loop: np.ndarray, sample_rate: int, bar_samples: int) -> LoopSeam:
    """Measure the wrap of ``loop`` (frames, channels, whole bars of ``bar_samples``) as heard when it repeats."""
    n = len(loop)
    twice = np.concatenate([loop, loop])
    jumps = seam_report(twice, [n], radius=0)
    steps = np.abs(np.diff(loop, axis=0)).max(axis=1)
    bar_lines = np.arange(bar_samples, n, bar_samples)
    bar_line_jump = float(steps[bar_lines - 1].max()) if bar_lines.size else 0.0
    flux, rate = spectral_flux(np.concatenate([loop, loop, loop]), sample_rate)
    hop = sample_rate / rate
    at = int(round(n / hop))
    # The second pass's frames, less the few whose window straddles either wrap.
    inside = flux[at + 5 : int(2 * n / hop) - 5]
    wrap = float(flux[at - 1 : at + 2].max())
    return LoopSeam(jumps.worst_jump, jumps.interior_p999, bar_line_jump, wrap, float(inside.max()),
                    float(100.0 * np.mean(inside < wrap)))
