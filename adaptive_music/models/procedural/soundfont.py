"""Sampled instruments: note tokens played through a General MIDI SoundFont.

FluidSynth (through pyfluidsynth; LGPL, linked dynamically) renders each
note on its own, from a silent synthesizer, to the end of its release: a
note's audio depends only on (program, key, velocity, duration), never on
the notes around it or on how the stream is cut, so it is cached like a
built-in note and live playback equals the offline render sample for
sample. FluidSynth was chosen over TinySoundFont because it honours the
font's filters and modulators (soft notes are darker, as played), keeps
samples as 16-bit and loads only the presets in use (about 60 MB resident
with FluidR3_GM, against 450 MB for TinySoundFont, which decodes the whole
font to float), and renders bit-identically across repeats. Its 64-sample
note grid does not matter here: every note starts at its own sample 0.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ENV_VAR = "ADAPTIVE_MUSIC_SOUNDFONT"
HOW_TO_GET_ONE = ("install a General MIDI SoundFont (Debian/Ubuntu: apt install fluid-soundfont-gm "
                  "libfluidsynth3; macOS: brew install fluid-synth and put FluidR3_GM.sf2 in "
                  "~/Library/Audio/Sounds/Banks; see the README) or pass --soundfont PATH / set "
                  f"{ENV_VAR}")

# Licence-clean General MIDI fonts first (both MIT). TimGM6mb is GPL-2: never picked up.
_SYSTEM_FONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/MuseScore_General.sf3",
    "/opt/homebrew/share/soundfonts/FluidR3_GM.sf2",
    "/usr/local/share/soundfonts/FluidR3_GM.sf2",
    "~/Library/Audio/Sounds/Banks/FluidR3_GM.sf2",
    "~/Library/Audio/Sounds/Banks/MuseScore_General.sf3",
    "~/soundfonts/FluidR3_GM.sf2",
    "~/soundfonts/MuseScore_General.sf3",
)

_REFERENCE_RMS = 0.2
_BLOCK = 64
_GEN_FILTERFC = 8  # SoundFont generator: initial filter cutoff (an offset in cents here)
_FILTER_STEPS = tuple(-300.0 * i for i in range(15))  # down to 3.5 octaves below the preset's own cutoff


def _presence_db(note: np.ndarray, sample_rate: int) -> float:
    """Share of a note's energy in 2-4 kHz, in dB (where a mix's presence and harshness live)."""
    power = np.abs(np.fft.rfft(note)) ** 2
    freqs = np.fft.rfftfreq(len(note), 1.0 / sample_rate)
    return float(10 * np.log10(power[(freqs >= 2000) & (freqs < 4000)].sum() / max(power.sum(), 1e-30) + 1e-30))  # FluidSynth's internal block: a note-off lands on the next block boundary


class SoundFontError(ValueError):
    """A named SoundFont cannot be used (missing file, unreadable font, no FluidSynth)."""


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path | None:
    """The font to use: ``explicit``, else ``$ADAPTIVE_MUSIC_SOUNDFONT``, else the first usual system location.

    A font that is named (argument or variable) but missing raises
    :class:`SoundFontError`; ``None`` means none was named or found.
    """
    for named, source in ((explicit, "--soundfont"), (os.environ.get(ENV_VAR) or None, ENV_VAR)):
        if named is not None:
            path = Path(named).expanduser()
            if not path.is_file():
                raise SoundFontError(f"SoundFont not found: {path} (from {source})")
            return path
    candidates = list(_SYSTEM_FONTS)
    if sys.platform == "win32":
        home = Path(os.environ.get("USERPROFILE", "~"))
        candidates += [str(home / "soundfonts" / "FluidR3_GM.sf2"), "C:/soundfonts/FluidR3_GM.sf2"]
    for c in candidates:
        path = Path(c).expanduser()
        if path.is_file():
            return path
    return None


def _fluidsynth():
    try:
        import fluidsynth  # pyfluidsynth
    except (ImportError, OSError) as exc:  # the wheel, or the shared library it loads, is missing
        raise SoundFontError(f"sampled instruments need FluidSynth: pip install pyfluidsynth, and the "
                             f"library (apt install libfluidsynth3 / brew install fluid-synth) ({exc})") from None
    write = fluidsynth._fl.fluid_synth_write_float
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    write.restype = ctypes.c_int
    set_gen = fluidsynth._fl.fluid_synth_set_gen
    set_gen.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_float]
    set_gen.restype = ctypes.c_int
    return fluidsynth, write, set_gen


class SampledVoices:
    """Renders single notes of General MIDI programs from one SoundFont, as mono float32."""

    def __init__(self, path: str | os.PathLike, sample_rate: int):
        fluidsynth, self._write, self._set_gen = _fluidsynth()
        self.path = Path(path)
        self.sample_rate = sample_rate
        # No built-in reverb or chorus: the backend's own room comes after the mix.
        self._fs = fluidsynth.Synth(gain=1.0, samplerate=float(sample_rate), **{
            "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.dynamic-sample-loading": 1,
            "synth.polyphony": 64})
        self._font = self._fs.sfload(str(self.path))
        if self._font < 0:
            raise SoundFontError(f"FluidSynth could not load the SoundFont {self.path}")
        self._selected: dict[int, tuple[int, int]] = {}
        self._calibrations: dict[tuple, tuple[float, float]] = {}

    def _select(self, channel: int, bank: int, program: int) -> None:
        if self._selected.get(channel) != (bank, program):
            if self._fs.program_select(channel, self._font, bank, program) != 0:
                raise SoundFontError(f"{self.path.name} has no preset bank {bank} program {program}")
            self._selected[channel] = (bank, program)

    def _run(self, n: int) -> np.ndarray:
        buf = np.zeros((n, 2), np.float32)
        p = buf.ctypes.data
        self._write(self._fs.synth, n, p, 0, 2, p + 4, 0, 2)
        return buf

    def calibrate(self, bank: int, program: int, key: int, velocity: int,
                  presence_db: float | None) -> tuple[float, float]:
        """(gain, filter offset in cents) for a preset, per octave and velocity: the
        gain staging and channel EQ a producer sets per track.

        The gain brings the preset to one reference level (drums by their peak, pitched
        presets by the RMS of a note's first half second), so the mix, not the font,
        sets the levels; the token's velocity then scales it as for the built-in voices,
        while the MIDI velocity picks the font's sample layer (the timbre of playing
        harder). The filter offset lowers the voice's own low-pass until the note's
        2-4 kHz share is at most ``presence_db`` (None: no filter): brightness follows
        the mood, not each preset's recording.
        """
        octave = key // 12 if bank != 128 else key
        cache_key = (bank, program, octave, velocity, presence_db)
        found = self._calibrations.get(cache_key)
        if found is None:
            probe = key if bank == 128 else 12 * octave + 7
            for offset in (0.0,) if presence_db is None else _FILTER_STEPS:
                note = self._note(bank, program, probe, velocity, self.sample_rate // 2, 0, offset)
                note = note.astype(np.float64)
                if presence_db is None or _presence_db(note, self.sample_rate) <= presence_db:
                    break
            level = np.max(np.abs(note)) / 4 if bank == 128 else np.sqrt(np.mean(note ** 2))
            gain = _REFERENCE_RMS / level if level > 1e-4 else 1.0  # a silent zone stays silent
            found = self._calibrations[cache_key] = (gain, offset)
        return found

    def render(self, bank: int, program: int, key: int, velocity: int, hold: int, tail: int,
               presence_db: float | None = None) -> np.ndarray:
        """One note, calibrated (see :meth:`calibrate`): held ``hold`` samples (rounded up
        to FluidSynth's block), then ``tail`` samples of release."""
        gain, offset = self.calibrate(bank, program, key, velocity, presence_db)
        return self._note(bank, program, key, velocity, hold, tail, offset) * np.float32(gain)

    def _note(self, bank: int, program: int, key: int, velocity: int, hold: int, tail: int,
              filter_offset: float) -> np.ndarray:
        channel = 9 if bank == 128 else 0
        self._select(channel, bank, program)
        self._set_gen(self._fs.synth, channel, _GEN_FILTERFC, filter_offset)
        hold = -(-max(1, hold) // _BLOCK) * _BLOCK
        self._fs.noteon(channel, key, velocity)
        held = self._run(hold)
        self._fs.noteoff(channel, key)
        released = self._run(-(-tail // _BLOCK) * _BLOCK)
        self._fs.all_sounds_off(channel)  # the next note starts from silence, whatever is left
        self._run(_BLOCK)  # let the voices it killed finish leaving
        note = np.concatenate([held, released])
        return (note[:, 0] + note[:, 1]) * np.float32(0.5)  # the track's pan places it

    def close(self) -> None:
        self._fs.delete()
