"""Decoding: note tokens to stereo audio, by mixing cached notes into track buses."""

from __future__ import annotations

import math

import numpy as np

from .instruments import INSTRUMENTS, NoteCache, velocity_gain
from .tokens import TRACKS, unpack_notes

# Per-track gain and pan (-1 left .. +1 right): the mix. The bass and kick carry the low
# octaves as they do in produced music (a quiet bass leaves the bottom octave empty); the
# chord voices spread across the stage, the melody near the centre, hats and bells kept
# under the melody. Each note has had its channel EQ (see presence).
_MIX = {
    "bass": (0.5, 0.0), "pad0": (0.17, -0.6), "pad1": (0.17, -0.2), "pad2": (0.17, 0.2),
    "pad3": (0.17, 0.6), "arp": (0.24, 0.35), "lead": (0.34, -0.08), "bells": (0.12, -0.45),
    "kick": (0.34, 0.0), "snare": (0.34, 0.06), "hat": (0.2, 0.4), "perc": (0.3, -0.25),
}


def _pan_gains(channels: int) -> np.ndarray:
    gains = np.zeros((len(TRACKS), channels), np.float32)
    for i, name in enumerate(TRACKS):
        if name not in _MIX:
            continue
        g, pan = _MIX[name]
        if channels == 1:
            gains[i, 0] = g
        else:
            theta = (pan + 1) * math.pi / 4  # constant-power pan law
            gains[i] = (g * math.cos(theta) * math.sqrt(2), g * math.sin(theta) * math.sqrt(2))
    return gains


_VELOCITY = np.array([velocity_gain(v) for v in range(16)], np.float32)


class Synth:
    """Renders any span of frames from the notes that sound in it."""

    def __init__(self, sample_rate: int, samples_per_frame: int, channels: int, voices=None):
        self.sr = sample_rate
        self.spf = samples_per_frame
        self.cache = NoteCache(sample_rate, voices=voices)
        self._gains = _pan_gains(channels)
        self._release = np.array([self.cache.tail_samples(i) for i in range(len(INSTRUMENTS))], np.int64)

    def render(self, tokens: np.ndarray, first_frame: int, start_frame: int) -> np.ndarray:
        """Audio for frames [start_frame, first_frame + len(tokens)) of a token span.

        ``tokens`` start at absolute frame ``first_frame``; rows before
        ``start_frame`` are left context whose notes may still ring.
        """
        w0 = start_frame * self.spf
        w1 = (first_frame + len(tokens)) * self.spf
        buses = np.zeros((len(TRACKS), w1 - w0), np.float32)
        rows, tracks = np.nonzero(tokens[:, 1:])
        if len(rows):
            tracks = tracks + 1
            codes = tokens[rows, tracks]
            f = unpack_notes(codes)
            starts = (rows + first_frame) * self.spf + f["offset"]
            ends = starts + f["duration"] + self._release[f["instrument"]] + 1
            live = (ends > w0) & (starts < w1)
            keep = np.flatnonzero(live)
            fields = zip(tracks[keep].tolist(), starts[keep].tolist(), f["instrument"][keep].tolist(),
                         f["pitch"][keep].tolist(), f["duration"][keep].tolist(),
                         f["brightness"][keep].tolist(), _VELOCITY[f["velocity"][keep]].tolist())
            for track, s, instrument, pitch, duration, brightness, gain in fields:
                note = self.cache.get(instrument, pitch, duration, brightness)
                a, b = max(s, w0), min(s + len(note), w1)
                if a < b:
                    buses[track, a - w0 : b - w0] += note[a - s : b - s] * np.float32(gain)
        return buses.T @ self._gains  # (samples, channels), C-contiguous for the stages after
