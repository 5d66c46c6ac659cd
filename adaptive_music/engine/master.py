"""Mastering: a slow loudness leveler and a soft limiter, applied to the output stream."""

from __future__ import annotations

import numpy as np

from ..audio.measures import k_weighting_power

CEILING = 10 ** (-0.3 / 20)  # -0.3 dBFS: nothing ever goes above this
KNEE = 0.7
# The leveler looks at every 4th sample: music's loudness lives well below 6 kHz
# at 48 kHz (K-weighting is flat above 2 kHz), and the slow gain needs no more.
_DECIMATE = 4


def soft_limit(x: np.ndarray) -> np.ndarray:
    """Identity below the knee, then a tanh curve that approaches CEILING but never reaches it."""
    span = CEILING * (1 - 1e-4) - KNEE  # a hair under, so float32 rounding stays below the ceiling
    mag = np.abs(x)
    over = mag > KNEE
    if not over.any():
        return x
    out = x.copy()
    out[over] = np.sign(x[over]) * (KNEE + span * np.tanh((mag[over] - KNEE) / span))
    return out


TARGET_LUFS = -16.0
STRENGTH = 0.5
WINDOW_LU = 1.0
MAX_GAIN_DB = 12.0


def leveling_gain_db(loudness: float) -> float:
    """The gain (dB) for a mix measured at ``loudness`` LUFS.

    It takes the mix STRENGTH of the way to TARGET_LUFS, so a battle stays
    louder than a lullaby, and further where that would leave the mix more
    than WINDOW_LU away: every mood keeps to the loudness a game's mixer is
    set up for (-16 LUFS within 2 LU, with room for the measure's spread).
    """
    offset = float(np.clip((1 - STRENGTH) * (loudness - TARGET_LUFS), -WINDOW_LU, WINDOW_LU))
    return float(np.clip(TARGET_LUFS + offset - loudness, -MAX_GAIN_DB, MAX_GAIN_DB))


class Leveler:
    """Keeps short-term loudness near the target with slow, causal gain changes
    (see ``leveling_gain_db`` for how far it corrects).

    Loudness is measured per block (a frame of the output) in the frequency
    domain with the K-weighting of a loudness meter, integrated over about
    3 s, gated against silence. The gain for each block is decided before the
    block starts and ramped linearly across it, so the result does not depend
    on how the stream is cut into calls.
    """

    def __init__(self, sample_rate: int, channels: int, block: int | None = None):
        self.block = block or sample_rate // 10
        self._kw = k_weighting_power(np.fft.rfftfreq(self.block // _DECIMATE, _DECIMATE / sample_rate),
                                     sample_rate).astype(np.float32)
        self._window = np.hanning(self.block).astype(np.float32)
        self._ramp = np.arange(self.block, dtype=np.float32) / self.block
        self._norm = 1.0 / float(np.sum(self._window[::_DECIMATE] ** 2))
        self._pending = np.zeros((self.block, channels), np.float32)
        self._energy = 0.0
        self._measured = 0  # blocks in the loudness so far
        self._gain_db = 0.0
        self._next_gain_db = 0.0
        self._pos_in_block = 0
        rate = sample_rate / self.block
        self._smooth = np.exp(-1.0 / (3.0 * rate))  # ~3 s loudness integration
        self._gain_smooth = np.exp(-1.0 / (1.0 * rate))  # ~1 s gain glide

    def process(self, audio: np.ndarray) -> np.ndarray:
        b, pos = self.block, self._pos_in_block
        # Every block this call completes is measured in one batched FFT.
        data = np.concatenate([self._pending[:pos], audio]) if pos else audio
        complete = len(data) // b
        powers = self._powers(data[: complete * b]) if complete else ()
        gains = np.empty(len(audio), np.float32)
        i = 0
        for k in range(complete + 1):
            n = min(b - pos, len(audio) - i)
            if n <= 0:
                break
            g0, g1 = 10 ** (self._gain_db / 20), 10 ** (self._next_gain_db / 20)
            gains[i : i + n] = self._ramp[pos : pos + n] * np.float32(g1 - g0) + np.float32(g0)
            i += n
            if k < complete:
                self._update(powers[k])
                pos = 0
            else:
                pos += n
        rest = len(data) - complete * b
        self._pending[:rest] = data[complete * b :]
        self._pos_in_block = rest
        return audio * gains[:, None]

    def _powers(self, blocks: np.ndarray) -> np.ndarray:
        """K-weighted mean-square power of each block, summed over channels."""
        x = blocks.reshape(-1, self.block, blocks.shape[1])
        spec = np.fft.rfft(x[:, ::_DECIMATE] * self._window[None, ::_DECIMATE, None], axis=1)
        power = (spec.real ** 2 + spec.imag ** 2) * self._kw[None, :, None]
        return power.sum(axis=(1, 2)) * (self._norm * 2 * _DECIMATE / self.block)

    def _update(self, power: float) -> None:
        """Take one block's measurement and decide the next block's gain."""
        self._gain_db = self._next_gain_db
        if power <= 10 ** ((-60 + 0.691) / 10):  # silence gate: hold the gain
            return
        # Until ~3 s are heard, the loudness is the plain mean of what has been: the first
        # blocks (often a downbeat's attack) do not stand for the seconds after them.
        keep = min(self._smooth, self._measured / (self._measured + 1))
        self._energy = keep * self._energy + (1 - keep) * power
        self._measured += 1
        loudness = -0.691 + 10 * np.log10(self._energy)
        self._next_gain_db = self._gain_smooth * self._gain_db + (1 - self._gain_smooth) * leveling_gain_db(loudness)
