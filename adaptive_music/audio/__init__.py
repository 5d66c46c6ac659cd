"""Audio files and signal measures: WAV reading and writing, and the
measures that check a render (level, loudness, onsets, tempo, seams)."""

from .measures import (
    SeamReport,
    first_difference,
    integrated_loudness,
    k_weighting,
    onset_rate,
    peak_dbfs,
    rms_dbfs,
    sample_jumps,
    seam_report,
    spectral_centroid,
    spectral_flux,
    tempo_bpm,
)
from .wav import SUBTYPES, WavError, WavWriter, read_wav, write_wav

__all__ = [
    "SUBTYPES",
    "SeamReport",
    "WavError",
    "WavWriter",
    "first_difference",
    "integrated_loudness",
    "k_weighting",
    "onset_rate",
    "peak_dbfs",
    "rms_dbfs",
    "sample_jumps",
    "seam_report",
    "read_wav",
    "spectral_centroid",
    "spectral_flux",
    "tempo_bpm",
    "write_wav",
]
