"""Sampled instruments: note tokens played through a General MIDI SoundFont.

FluidSynth (through pyfluidsynth; LGPL, linked dynamically) renders each
note on its own, from a silent synthesizer, to the end of its release: a
note's audio depends only on (program, key, velocity, duration), never on
the notes rendered before it (see :meth:`SampledVoices._note`) or on how the
stream is cut, so it is cached like a built-in note, may be rendered ahead on
another thread, and live playback equals the offline render sample for
sample. FluidSynth was chosen over TinySoundFont because it honours the
font's filters and modulators (soft notes are darker, as played), keeps
samples as 16-bit and loads only the presets in use (about 60 MB resident
with FluidR3_GM, against 450 MB for TinySoundFont, which decodes the whole
font to float), and renders bit-identically across repeats. Its 64-sample
note grid does not matter here: every note starts at its own sample 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import logging
import os
import sys
import threading
from pathlib import Path

import numpy as np

from ...audio import timbre
from . import presence

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

_BLOCK = 64  # FluidSynth's internal block: a note-off lands on the next block boundary


def _equalise(note: np.ndarray, gain_db: float, sample_rate: int) -> np.ndarray:
    from scipy.signal import sosfilt

    return sosfilt(presence.coefficients(gain_db, sample_rate), note)


def _presence_gain(notes: list[np.ndarray], sample_rate: int, target_db: float) -> float:
    """The presence gain (dB) that brings the 2-4 kHz share of a preset's notes, each counted
    at the same level, to ``target_db``."""
    power = sum(np.abs(np.fft.rfft(n / np.sqrt(np.mean(n ** 2))) ** 2) for n in notes)
    return presence.gain_db(power, np.fft.rfftfreq(len(notes[0]), 1.0 / sample_rate), sample_rate, target_db)


_CALIBRATIONS: dict[tuple[str, int], tuple[dict, dict]] = {}
"""(font, rate) -> (gain and EQ per preset, octave, velocity and target; EQ per preset, velocity and target)."""


def calibration_file(font: Path, sample_rate: int) -> Path:
    """Where a font's calibrations are kept between runs (as a shader cache is): named by the
    font file (path, size, modification time), the rate and the code of this module, of the
    presence EQ and of the measure it is set by, so a changed font or a changed calibration is
    never read from an old file."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    st = font.stat()
    digest = hashlib.sha256(f"{font.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sample_rate}".encode())
    for code in (__file__, presence.__file__, timbre.__file__):
        digest.update(Path(code).read_bytes())
    return cache / "adaptive-music" / "calibrations" / f"{digest.hexdigest()[:32]}.json"


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
    # pyfluidsynth prints where it found the library to stdout when CI is set; serve's stdout
    # carries the lines clients parse, so that print goes to the log instead.
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            import fluidsynth  # pyfluidsynth
        import scipy.signal  # noqa: F401  (the presence EQ)
    except (ImportError, OSError) as exc:  # a wheel, or the shared library it loads, is missing
        raise SoundFontError(f"sampled instruments need FluidSynth and SciPy: pip install 'adaptive-music[sampled]', "
                             f"and the library (apt install libfluidsynth3 / brew install fluid-synth) ({exc})") from None
    if printed.getvalue():
        log.debug("pyfluidsynth: %s", printed.getvalue().strip())
    write = fluidsynth._fl.fluid_synth_write_float
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    write.restype = ctypes.c_int
    return fluidsynth, write


class SampledVoices:
    """Renders single notes of General MIDI programs from one SoundFont, as mono float32."""

    reference_rms = 0.2
    """The level a pitched preset is calibrated to, the RMS of a note's first half second; a
    drum's peak is brought to four times it."""

    def __init__(self, path: str | os.PathLike, sample_rate: int):
        fluidsynth, self._write = _fluidsynth()
        self.path = Path(path)
        self.sample_rate = sample_rate
        # No built-in reverb or chorus: the backend's own room comes after the mix.
        self._fs = fluidsynth.Synth(gain=1.0, samplerate=float(sample_rate), **{
            "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.dynamic-sample-loading": 1,
            "synth.polyphony": 64})
        self._font = self._fs.sfload(str(self.path))
        if self._font < 0:
            raise SoundFontError(f"FluidSynth could not load the SoundFont {self.path}")
        self._lock = threading.Lock()  # one note at a time through the synthesizer (a prefetch thread shares it)
        self._selected: dict[int, tuple[int, int]] = {}
        # Calibrations depend only on the font and the rate: every instance in the process shares them,
        # and every later process reads them from the file the first one to compute them all wrote.
        self._calibrations, self._eqs = _CALIBRATIONS.setdefault((str(self.path.resolve()), sample_rate), ({}, {}))
        self._file = calibration_file(self.path, sample_rate)
        if not self._calibrations:
            self._read_calibrations()

    def _read_calibrations(self) -> None:
        try:
            saved = json.loads(self._file.read_text())
            calibrations = {tuple(k): (gain, eq) for *k, gain, eq in saved["calibrations"]}
            eqs = {tuple(k): gain for *k, gain in saved["eqs"]}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:  # computed again, and written again
            log.warning("ignoring the unreadable calibration file %s (%s)", self._file, exc)
            return
        self._calibrations.update(calibrations)
        self._eqs.update(eqs)

    @property
    def calibrated(self) -> int:
        """How many calibrations this process holds (computed or read)."""
        return len(self._calibrations)

    def save_calibrations(self) -> None:
        """Write every calibration computed so far to :func:`calibration_file` (atomically; a
        failure to write costs only the time to compute them again in the next process)."""
        saved = {"font": str(self.path), "sample_rate": self.sample_rate,
                 "calibrations": [[*k, None if gain is None else float(gain), None if eq is None else float(eq)]
                                  for k, (gain, eq) in list(self._calibrations.items())],
                 "eqs": [[*k, float(gain)] for k, gain in list(self._eqs.items())]}
        tmp = self._file.with_name(f"{self._file.name}.{os.getpid()}.tmp")
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(saved))
            os.replace(tmp, self._file)
        except OSError as exc:
            log.warning("could not keep the SoundFont calibrations in %s (%s)", self._file, exc)
            tmp.unlink(missing_ok=True)

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
                  presence_db: float | None) -> tuple[float | None, float | None]:
        """(gain, presence EQ in dB or None) for a preset, per octave and velocity: the gain
        staging and channel EQ a producer sets per track. The gain is None where the font has
        nothing to measure (no sample sounds at the probe key).

        The gain brings the preset to one reference level (drums by their peak, pitched
        presets by the RMS of a note's first half second, :attr:`reference_rms`, from which
        the note cache takes each to the level of the built-in voice it stands in for), so
        the mix, not the font, sets the levels; the token's velocity then scales it as for
        the built-in voices, while the MIDI velocity picks the font's sample layer (the
        timbre of playing harder). The presence EQ (a bell at 2.8 kHz, see :mod:`.presence`) brings
        the preset's 2-4 kHz share to ``presence_db`` (None: no EQ), cutting a bright preset
        or lifting a dull one by up to 6 dB: brightness follows the mood, not each preset's
        recording, and the air above the band stays.
        """
        octave = key // 12 if bank != 128 else key
        cache_key = (bank, program, octave, velocity, presence_db)
        found = self._calibrations.get(cache_key)
        if found is None:
            eq = None if presence_db is None else self._presence_eq(bank, program, velocity, presence_db)
            probe = self._probe(bank, program, key if bank == 128 else 12 * octave + 7, velocity)
            if eq is not None:
                probe = _equalise(probe, eq, self.sample_rate)
            level = np.max(np.abs(probe)) / 4 if bank == 128 else np.sqrt(np.mean(probe ** 2))
            gain = self.reference_rms / level if level > 1e-4 else None
            found = self._calibrations[cache_key] = (gain, eq)
        return found

    def _presence_eq(self, bank: int, program: int, velocity: int, presence_db: float) -> float:
        """One presence gain per preset and velocity, as a channel EQ is set for a whole track:
        from a note in each octave it plays (G2 to G5), so its low notes stay darker than its
        high ones, as they sound."""
        key = (bank, program, velocity, presence_db)
        found = self._eqs.get(key)
        if found is None:
            probes = [self._probe(bank, program, k, velocity) for k in presence.PROBE_KEYS]
            sounding = [p for p in probes if np.sqrt(np.mean(p ** 2)) > 1e-4]
            found = self._eqs[key] = _presence_gain(sounding, self.sample_rate, presence_db) if sounding else 0.0
        return found

    def _probe(self, bank: int, program: int, key: int, velocity: int) -> np.ndarray:
        """The first half second of a note, as float64."""
        with self._lock:
            return self._note(bank, program, key, velocity, self.sample_rate // 2, 0).astype(np.float64)

    def render(self, bank: int, program: int, key: int, velocity: int, hold: int, tail: int,
               presence_db: float | None = None, gain: float | None = None) -> np.ndarray:
        """One note, held ``hold`` samples (rounded up to FluidSynth's block), then ``tail``
        samples of release, through its presence EQ, at ``gain`` (None: calibrated, see
        :meth:`calibrate`; a key the font has nothing at plays at the font's own level)."""
        calibrated, eq = self.calibrate(bank, program, key, velocity, presence_db)
        if gain is None:
            gain = 1.0 if calibrated is None else calibrated
        with self._lock:
            note = self._note(bank, program, key, velocity, hold, tail)
        if eq is not None:
            note = _equalise(note, eq, self.sample_rate).astype(np.float32)
        return note * np.float32(gain)

    def _note(self, bank: int, program: int, key: int, velocity: int, hold: int, tail: int) -> np.ndarray:
        channel = 9 if bank == 128 else 0
        self._select(channel, bank, program)
        # FluidSynth reuses voice objects and ramps a new voice's first block from the level its
        # slot was left at, so that block would depend on the note played before. One block of
        # this same note, cut, leaves the slots where this note will find them every time.
        self._fs.noteon(channel, key, velocity)
        self._run(_BLOCK)
        self._fs.all_sounds_off(channel)
        self._run(_BLOCK)
        hold = -(-max(1, hold) // _BLOCK) * _BLOCK
        self._fs.noteon(channel, key, velocity)
        held = self._run(hold)
        self._fs.noteoff(channel, key)
        released = self._run(-(-tail // _BLOCK) * _BLOCK)
        self._fs.all_sounds_off(channel)  # the next note starts from silence, whatever is left
        self._run(_BLOCK)  # let the voices it killed finish leaving
        note = np.concatenate([held, released])
        # Mono as the note's louder channel; the track's pan places it. Many presets are sampled
        # with two spaced microphones: summed, they cancel where their paths differ by half a
        # wavelength (FluidR3_GM's piano lost up to 6.5 dB so, its neighbouring keys 6-9 dB apart).
        louder = int(np.sum(np.square(note[:, 1], dtype=np.float64)) > np.sum(np.square(note[:, 0], dtype=np.float64)))
        return np.ascontiguousarray(note[:, louder])

    def close(self) -> None:
        self._fs.delete()
