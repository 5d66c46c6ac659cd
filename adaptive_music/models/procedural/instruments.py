"""Instrument voices: each note is rendered whole, once, and cached.

Pitched voices are wavetable oscillators (band-limited tables built from
harmonic profiles) shaped by envelopes; plucked strings (guitar, harp) are
drawn at a series of moments, each partial decayed at its own rate, as a
string loses its upper partials first; drums are synthesised one-shots.
Every voice goes through the channel EQ the sampled presets take (the
presence bell of :mod:`.presence`), set from its own partials.
A note's audio is a pure function of (instrument, pitch, velocity,
duration, brightness), so the same note is never rendered twice and a
window of tokens always decodes to the same samples.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
import threading
import time
from typing import Callable

import numpy as np

from . import presence

log = logging.getLogger(__name__)

TABLE_SIZE = 2048
_TWO_PI = 2.0 * math.pi


@dataclasses.dataclass(frozen=True)
class Instrument:
    name: str
    kind: str  # "sustain", "pluck", "bell", "drum"
    attack: float = 0.01
    decay: float = 0.2
    sustain: float = 0.8
    release: float = 0.3
    tau: float = 1.0  # pluck/bell decay time constant (s)
    vibrato: float = 0.0  # depth as a fraction of frequency
    detune_cents: float = 0.0  # a second oscillator, detuned, for width/chorus
    level: float = 1.0
    gm: tuple[int, int, int] = (0, 0, -1)
    """General MIDI (bank, program, key) for sampled rendering; bank 128 is a drum kit,
    key -1 plays the note's own pitch."""
    voice: str = ""
    """The built-in timbre, when it is another instrument's (an articulation or kit variant)."""

    @property
    def timbre(self) -> str:
        return self.voice or self.name


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("strings", "sustain", attack=0.35, decay=0.3, sustain=0.85, release=0.9, vibrato=0.003, detune_cents=7, level=0.9, gm=(0, 48, -1)),
    Instrument("choir", "sustain", attack=0.45, decay=0.3, sustain=0.9, release=1.0, vibrato=0.004, detune_cents=9, level=0.85, gm=(0, 52, -1)),
    Instrument("organ", "sustain", attack=0.03, decay=0.1, sustain=0.95, release=0.25, level=0.6, gm=(0, 19, -1)),
    Instrument("synth_pad", "sustain", attack=0.5, decay=0.4, sustain=0.8, release=1.2, detune_cents=11, level=0.7, gm=(0, 89, -1)),
    Instrument("piano", "pluck", attack=0.003, release=0.35, tau=1.6, level=0.9, gm=(0, 0, -1)),
    Instrument("harp", "pluck", attack=0.002, release=0.6, tau=1.1, level=0.9, gm=(0, 46, -1)),
    Instrument("guitar", "pluck", attack=0.002, release=0.2, tau=0.9, level=0.85, gm=(0, 24, -1)),
    Instrument("bells", "bell", attack=0.002, release=0.8, tau=1.4, level=0.55, gm=(0, 9, -1)),
    Instrument("flute", "sustain", attack=0.06, decay=0.1, sustain=0.85, release=0.15, vibrato=0.006, level=0.8, gm=(0, 73, -1)),
    Instrument("brass", "sustain", attack=0.05, decay=0.25, sustain=0.75, release=0.2, vibrato=0.002, detune_cents=4, level=0.75, gm=(0, 61, -1)),
    Instrument("synth_lead", "sustain", attack=0.01, decay=0.15, sustain=0.7, release=0.12, vibrato=0.004, level=0.55, gm=(0, 81, -1)),
    Instrument("violin", "sustain", attack=0.08, decay=0.2, sustain=0.85, release=0.25, vibrato=0.006, level=0.75, gm=(0, 40, -1)),
    # General MIDI's synth bass 2, as FluidR3_GM records it, is plucked: 12 dB down 0.35 s after its attack.
    Instrument("synth_bass", "pluck", attack=0.005, release=0.08, tau=0.25, level=1.3, gm=(0, 38, -1)),
    Instrument("contrabass", "sustain", attack=0.06, decay=0.3, sustain=0.8, release=0.3, level=0.75, gm=(0, 43, -1)),
    Instrument("pizzicato", "pluck", attack=0.002, release=0.15, tau=0.35, level=1.0, gm=(0, 45, -1)),
    Instrument("marimba", "pluck", attack=0.001, release=0.2, tau=0.45, level=0.8, gm=(0, 12, -1)),
    # Drum levels: each hit's energy against its kit's kick as in FluidR3_GM's recorded kits
    # (see _KICK_DECAY), but for the crash, 5 dB under: it falls on a phrase's first downbeat,
    # which is a loop's wrap, and a loop's loudest onset should not mark where it repeats.
    Instrument("kick", "drum", level=1.0, gm=(128, 0, 36)),
    Instrument("snare", "drum", level=0.95, gm=(128, 0, 38)),
    Instrument("hat", "drum", level=1.0, gm=(128, 0, 42)),
    Instrument("open_hat", "drum", level=0.6, gm=(128, 0, 46)),
    Instrument("tom", "drum", level=0.3, gm=(128, 0, -1)),
    Instrument("crash", "drum", level=0.6, gm=(128, 0, 49)),
    Instrument("shaker", "drum", level=0.75, gm=(128, 0, 82)),
    Instrument("taiko", "drum", level=0.8, gm=(0, 116, 48)),
    Instrument("rim", "drum", level=1.0, gm=(128, 0, 37)),
    # Articulations and ensemble variants: their own sampled programs, a built-in timbre borrowed.
    Instrument("tremolo_strings", "sustain", attack=0.12, decay=0.3, sustain=0.85, release=0.6, vibrato=0.003, detune_cents=7, level=0.85, gm=(0, 44, -1), voice="strings"),
    Instrument("slow_strings", "sustain", attack=0.5, decay=0.3, sustain=0.85, release=1.0, vibrato=0.003, detune_cents=7, level=0.9, gm=(0, 49, -1), voice="strings"),
    Instrument("choir_oohs", "sustain", attack=0.45, decay=0.3, sustain=0.9, release=1.0, vibrato=0.004, detune_cents=9, level=0.85, gm=(0, 53, -1), voice="choir"),
    Instrument("cello", "sustain", attack=0.08, decay=0.2, sustain=0.85, release=0.3, vibrato=0.005, level=0.8, gm=(0, 42, -1), voice="violin"),
    Instrument("horns", "sustain", attack=0.08, decay=0.25, sustain=0.8, release=0.3, vibrato=0.002, detune_cents=4, level=0.75, gm=(0, 60, -1), voice="brass"),
    Instrument("acoustic_bass", "pluck", attack=0.003, release=0.2, tau=0.9, level=1.0, gm=(0, 32, -1), voice="pizzicato"),
    Instrument("square_lead", "sustain", attack=0.005, decay=0.1, sustain=0.8, release=0.06, level=0.5, gm=(0, 80, -1)),
    Instrument("e_kick", "drum", level=1.0, gm=(128, 25, 36)),
    Instrument("e_snare", "drum", level=1.0, gm=(128, 25, 39)),
    Instrument("e_hat", "drum", level=0.7, gm=(128, 25, 42)),
    Instrument("e_open_hat", "drum", level=0.55, gm=(128, 25, 46)),
    Instrument("timpani", "drum", level=1.0, gm=(0, 47, 41)),
)
INSTRUMENT = {ins.name: i for i, ins in enumerate(INSTRUMENTS)}


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def _harmonics(name: str, brightness: float, freq: float) -> np.ndarray:
    """Harmonic amplitudes of a timbre; brightness 0..1 opens the upper partials."""
    h = np.arange(1, 65, dtype=np.float64)
    slope = 1.9 - 1.2 * brightness  # spectral tilt: bigger is darker
    if name in ("strings", "violin", "contrabass", "synth_pad", "brass", "synth_bass"):
        amps = h ** -slope
        if name == "brass":
            amps *= np.exp(-((h - 4) ** 2) / 40.0) * 0.6 + 0.4
    elif name == "synth_lead":  # General MIDI's lead 2, a sawtooth: every harmonic, about 1/k
        amps = h ** -(slope * 0.8)
    elif name == "square_lead":  # lead 1, a square wave: the odd harmonics
        amps = np.where(h % 2 == 1, h ** -(slope * 0.8), 0.08 * h ** -slope)
    elif name == "organ":
        amps = np.zeros_like(h)
        for k, a in ((1, 1.0), (2, 0.6), (3, 0.4), (4, 0.3), (6, 0.12), (8, 0.15 * brightness)):
            amps[k - 1] = a
    elif name == "flute":
        amps = np.zeros_like(h)
        amps[:4] = (1.0, 0.25 + 0.2 * brightness, 0.08, 0.03)
    elif name == "choir":
        # Vowel formants near 700 and 1150 Hz give an "ah"; trained voices add the singer's
        # formant, a cluster near 2.9 kHz about as strong as the fundamental (FluidR3_GM's
        # recorded choir on G3: harmonics 10-15 within 10 dB of it).
        f = h * freq
        amps = (np.exp(-((f - 700.0) / 260.0) ** 2) + 0.6 * np.exp(-((f - 1150.0) / 300.0) ** 2)
                + 0.45 * np.exp(-((f - 2900.0) / 600.0) ** 2) * (0.6 + 0.4 * brightness)) + 0.03 * h ** -1.5
        amps[0] += 0.4
    elif name in _PLUCK_POINT:
        # A string struck or plucked at a fraction p of its length: harmonic k has amplitude
        # |sin(k pi p)| / k^n (n = 2 for an ideal pluck; a felt hammer's contact time rounds it
        # less). Plucking near the middle (harp) leaves mostly odd harmonics; near the end
        # (guitar, piano hammer) keeps the upper ones: playing harder adds brightness.
        point, power = _PLUCK_POINT[name]
        amps = np.abs(np.sin(np.pi * h * point)) * h ** -(power - 0.6 * brightness) + 1e-3 * h ** -2.0
    else:  # marimba and other bars: bright, hollow-ish
        amps = h ** -(slope * 0.9) * (1.0 - 0.5 * (h % 2 == 0) * (1 - brightness))
    if name in _BODY_HZ:
        amps = amps * _body(h * freq, _BODY_HZ[name])
    return amps


# The main resonance (Hz) of an instrument body too small for its lowest notes. Below it the
# body radiates poorly, its output falling 12 dB an octave, so the low notes' fundamentals are
# heard weaker than their second harmonics (FluidR3_GM's recorded contrabass on A1 and E2: the second
# harmonic +1 to +4 dB over the fundamental).
_BODY_HZ = {"contrabass": 100.0}


def _body(freqs: np.ndarray, resonance: float) -> np.ndarray:
    """A body's radiation at ``freqs``: a second-order high-pass at its main resonance (Q 1)."""
    r = (freqs / resonance) ** 2
    return r / np.sqrt((1.0 - r) ** 2 + r)


def _partials(name: str, timbre_level: int, freq: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(amplitudes, frequencies) of a voice's partials below the table's band limit."""
    amps = _harmonics(name, timbre_level / 7.0, freq)
    count = int(min(len(amps), max(1, min(0.45 * sample_rate, 15000.0) // freq)))
    return amps[:count], freq * np.arange(1, count + 1)


@functools.lru_cache(maxsize=256)
def presence_gain(name: str, brightness_level: int, sample_rate: int) -> float:
    """The presence EQ (dB) of a built-in voice at a mood brightness of 0..7, set from its
    partials at the probe keys, each note at the same level, as a sampled preset's is from
    its notes (see :mod:`.presence`). A plucked string's partials count with their mean power
    over the note's first second, as it is heard while its upper partials die away."""
    power, freqs = [], []
    for key in presence.PROBE_KEYS:
        amps, f = _partials(name, brightness_level, midi_hz(key), sample_rate)
        p = amps ** 2
        if name in _STRING_LOSS:
            sigma2 = 2.0 * _string_decay(name, f)  # power decays twice as fast as amplitude
            p = p * (1.0 - np.exp(-sigma2)) / sigma2
        power.append(p / np.sum(p))
        freqs.append(f)
    return presence.gain_db(np.concatenate(power), np.concatenate(freqs), sample_rate,
                            presence.target_db(brightness_level))


def channel_eq(name: str, brightness_level: int, freqs: np.ndarray, sample_rate: int) -> np.ndarray:
    """The gain of a built-in voice's channel EQ at ``freqs`` for a mood brightness of 0..7."""
    return presence.response(presence_gain(name, brightness_level, sample_rate), freqs, sample_rate)


@functools.lru_cache(maxsize=512)
def wavetable(name: str, timbre_level: int, eq_level: int, pitch: int, sample_rate: int) -> np.ndarray:
    """One band-limited cycle of a voice played at brightness ``timbre_level`` through its channel
    EQ set for ``eq_level`` (both 0..7): row 0 the TABLE_SIZE values, row 1 the slope to the next."""
    amps, freqs = _partials(name, timbre_level, midi_hz(pitch), sample_rate)
    amps = amps * channel_eq(name, eq_level, freqs, sample_rate)
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, np.complex128)
    spectrum[1 : len(amps) + 1] = amps * _partial_phasors(len(amps))
    return _with_slopes(np.fft.irfft(spectrum, TABLE_SIZE))


# A plucked string's partials die away each at its own rate, faster the higher they are: the
# string's internal friction, the air and the body it drives take more energy at high
# frequencies. Decay rate sigma(f) = 1 / tau + LOSS * (f / 1 kHz) ** POWER (1/s), (LOSS, POWER)
# fitted to the recorded notes of FluidR3_GM (partials up to 6 kHz, 0.05-0.5 s after the pluck).
# Both rise about in proportion to frequency: the nylon guitar's (keys G2-C5; T60 about 5 s below
# 800 Hz, 2 s at 1.2 kHz, 1.2 s at 2.4 kHz, 0.9 s at 4.5 kHz) and, faster, the harp's (keys G2-C6;
# T60 about 2 s at 300-800 Hz, 1.1 s at 0.8-1.6 kHz, 0.6 s at 1.6-6 kHz).
_STRING_LOSS = {"guitar": (1.6, 1.0), "harp": (3.0, 1.0)}
# Times (s) at which a string's spectrum is drawn; between two of them the partials' amplitudes
# are interpolated. Closer together early, where the upper partials fall fastest.
_STRING_STAGES = (0.0, 0.02, 0.05, 0.1, 0.18, 0.3, 0.5, 0.8, 1.3, 2.0, 3.0)


def _string_decay(name: str, freqs: np.ndarray) -> np.ndarray:
    """Amplitude decay rates (1/s) of a plucked string's partials at ``freqs``."""
    loss, power = _STRING_LOSS[name]
    return 1.0 / INSTRUMENTS[INSTRUMENT[name]].tau + loss * (freqs / 1000.0) ** power


@functools.lru_cache(maxsize=256)
def string_tables(name: str, brightness_level: int, pitch: int, sample_rate: int) -> np.ndarray:
    """One band-limited cycle of a plucked string at each of :data:`_STRING_STAGES`, its partials
    decayed by then (shape: stages, 2, TABLE_SIZE; rows as in :func:`wavetable`), scaled so that
    the first cycle peaks at 1."""
    amps, freqs = _partials(name, brightness_level, midi_hz(pitch), sample_rate)
    amps = amps * channel_eq(name, brightness_level, freqs, sample_rate) * _partial_phasors(len(amps))
    spectrum = np.zeros((len(_STRING_STAGES), TABLE_SIZE // 2 + 1), np.complex128)
    spectrum[:, 1 : len(amps) + 1] = amps * np.exp(-np.outer(_STRING_STAGES, _string_decay(name, freqs)))
    return _with_slopes(np.fft.irfft(spectrum, TABLE_SIZE, axis=1))


def _string(tables: np.ndarray, phase_cycles: np.ndarray, sample_rate: int) -> np.ndarray:
    """A string's note: each stretch between two stages reads both tables and crossfades."""
    n = len(phase_cycles)
    out = np.empty(n, np.float32)
    starts = [round(t * sample_rate) for t in _STRING_STAGES]
    for k, lo in enumerate(starts):
        if lo >= n:
            break
        if k + 1 == len(starts):
            out[lo:] = _oscillate(tables[k], phase_cycles[lo:])
            break
        hi = min(n, starts[k + 1])
        a = _oscillate(tables[k], phase_cycles[lo:hi])
        mix = np.arange(hi - lo, dtype=np.float32) / np.float32(starts[k + 1] - lo)
        a += (_oscillate(tables[k + 1], phase_cycles[lo:hi]) - a) * mix
        out[lo:hi] = a
    return out


# (pluck or strike point as a fraction of the string, spectral fall-off power) per plucked voice.
# A harpist plucks near the middle of the string with the fingertip: the even harmonics stay
# weak (FluidR3_GM's recorded harp on C5: its second harmonic 23 dB under its third) and the
# fall-off is an ideal pluck's 1/k^2.
_PLUCK_POINT = {"guitar": (0.18, 2.0), "harp": (0.48, 2.0), "piano": (0.12, 2.1), "pizzicato": (0.3, 2.3)}

# The noise a player excites along with the tone: (level against the tone's peak, time constant in
# s it dies with, or None while the tone is held). Breath at a flute's embouchure and in a singer's
# voice, bow friction on strings and lip buzz in brass last as long as the note. A piano's hammer
# sets its soundboard ringing in its many close modes as well as the string, dying faster than the
# string: fitted to FluidR3_GM's recorded piano on G2-G5, 0.05-1 s after the strike, where between
# its partials, 0.8-6.4 kHz, the spectrum sits 30-60 dB under the partials' peaks (a piano of
# partials alone sat 40-90 dB under).
_NOISE = {"flute": (0.09, None), "choir": (0.06, None), "strings": (0.05, None), "violin": (0.05, None),
          "contrabass": (0.04, None), "brass": (0.03, None), "piano": (0.03, 0.45)}


@functools.lru_cache(maxsize=256)
def turbulence(name: str, brightness_level: int, pitch: int, sample_rate: int) -> np.ndarray:
    """One second of noise (a seamless loop, unit RMS) shaped like the voice's own spectrum:
    the instrument's body and the channel EQ colour the breath, bow or soundboard noise as they colour
    the tone. Nothing below 80 % of the fundamental, where the instrument has no resonance."""
    freq = midi_hz(pitch)
    n = sample_rate
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    amps = _harmonics(name, brightness_level / 7.0, freq)
    centres = freq * np.arange(1, len(amps) + 1)
    amps = amps * channel_eq(name, brightness_level, centres, sample_rate)
    envelope = np.interp(f, centres, amps, left=0.0, right=0.0) * (f >= 0.8 * freq)
    spectrum = np.fft.rfft(np.random.default_rng(pitch * 64 + brightness_level).standard_normal(n))
    out = np.fft.irfft(spectrum * envelope, n)
    out /= np.sqrt(np.mean(out ** 2)) + 1e-12
    out = out.astype(np.float32)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=64)
def _partial_phasors(count: int) -> np.ndarray:
    # Fixed, seeded partial phases avoid the peaky all-zero-phase waveform.
    phases = np.random.default_rng(count).uniform(0, _TWO_PI, count)
    phases[0] = 0.0
    return np.exp(1j * (phases - np.pi / 2))


def _with_slopes(cycles: np.ndarray) -> np.ndarray:
    """Tables of one cycle (shape TABLE_SIZE) or of several (stages, TABLE_SIZE), scaled so that
    the first cycle peaks at 1, each with its row of slopes: shape (2, TABLE_SIZE) or
    (stages, 2, TABLE_SIZE), read-only."""
    cycles = cycles / np.max(np.abs(cycles.reshape(-1, cycles.shape[-1])[0]))
    table = np.stack([cycles, np.roll(cycles, -1, axis=-1) - cycles], axis=-2).astype(np.float32)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=4)
def _time_axis(sample_rate: int, seconds: int) -> np.ndarray:
    t = np.arange(seconds * sample_rate) / sample_rate
    t.setflags(write=False)
    return t


def _times(n: int, sample_rate: int) -> np.ndarray:
    """Seconds of samples 0..n-1 (a shared, read-only array for all but very long notes)."""
    axis = _time_axis(sample_rate, 12)
    return axis[:n] if n <= len(axis) else np.arange(n) / sample_rate


def _oscillate(table: np.ndarray, phase_cycles: np.ndarray) -> np.ndarray:
    """Read a (values, slopes) table at phases in cycles, interpolating linearly."""
    pos = phase_cycles * TABLE_SIZE
    i = pos.astype(np.int64)
    frac = (pos - i).astype(np.float32)
    np.bitwise_and(i, TABLE_SIZE - 1, out=i)  # TABLE_SIZE is a power of two: cheap wrap-around
    out = np.take(table[1], i)
    out *= frac
    out += np.take(table[0], i)
    return out


def _phase(freq: float, t: np.ndarray, vibrato: float) -> np.ndarray:
    """Phase in cycles at times ``t``, with a vibrato that fades in over 0.4 s."""
    phase = freq * t
    if vibrato:
        rate, hop = 5.2, 32
        # The vibrato term changes slowly: compute it every `hop` samples.
        tc = t[::hop]
        depth = vibrato * np.minimum(1.0, tc / 0.4)
        wobble = -freq * depth * np.cos(_TWO_PI * rate * tc) / (_TWO_PI * rate)
        phase = phase + np.repeat(wobble, hop)[: len(t)]
    return phase


def _adsr(ins: Instrument, n_hold: int, n_total: int, sr: int) -> np.ndarray:
    """Attack, decay, sustain while held, then an exponential release from wherever it got to."""
    a, d, s = (max(1, int(ins.attack * sr)), max(1, int(ins.decay * sr)), ins.sustain)
    env = np.full(n_total, s, np.float32)
    na = min(a, n_hold)
    env[:na] = np.arange(na, dtype=np.float32) / a
    nd = min(d, max(0, n_hold - a))
    env[a : a + nd] = 1.0 - (1.0 - s) * (np.arange(nd, dtype=np.float32) / d)
    level = env[n_hold - 1] if n_hold > 0 else 0.0
    tail = np.arange(n_total - n_hold, dtype=np.float32) * np.float32(-5.0 / (max(ins.release, 1e-3) * sr))
    env[n_hold:] = level * np.exp(tail)
    return env


def _shaped_noise(n: int, seed: int, sr: int, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Seeded white noise through the magnitude response ``gain(f)`` (f in Hz), shaped in the
    frequency domain, peaking at 1."""
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    out = np.fft.irfft(spec * gain(np.fft.rfftfreq(n, 1.0 / sr)), n)
    return (out / (np.max(np.abs(out)) + 1e-9)).astype(np.float32)


def _noise(n: int, seed: int, lo: float, hi: float, sr: int) -> np.ndarray:
    """Band-limited noise between lo and hi Hz."""
    return _shaped_noise(n, seed, sr, lambda f: 1.0 / (1.0 + (lo / np.maximum(f, 1.0)) ** 4) / (1.0 + (f / hi) ** 4))


def _resonant_noise(n: int, seed: int, centre: float, q: float, sr: int) -> np.ndarray:
    """Noise through one resonance (a second-order band-pass at ``centre`` Hz)."""

    def gain(f: np.ndarray) -> np.ndarray:
        f = np.maximum(f, 1.0)
        return 1.0 / np.sqrt(1.0 + (q * (f / centre - centre / f)) ** 2)

    return _shaped_noise(n, seed, sr, gain)


# The kits are shaped and balanced as FluidR3_GM's recorded kits are (standard kit; the
# electronic kit for the e_ sounds). Decay time (s) of a kick's body: a damped acoustic bass
# drum is gone 0.11 s after the hit (-30 dB), a drum machine's kick after 0.22 s.
_KICK_DECAY = {"kick": 0.035, "e_kick": 0.065}
# (lowest Hz, decay s, length s) of a hi-hat's noise: struck cymbals ring from 2-3 kHz up, a
# closed hat for 0.14 s and an open one for 1.4 s; a drum machine's hat is a short hiss above 7 kHz.
_HATS = {"hat": (3000.0, 0.04, 0.25), "open_hat": (3000.0, 0.4, 1.6),
         "e_hat": (7000.0, 0.022, 0.09), "e_open_hat": (7000.0, 0.22, 0.6)}

# When a hand clap's bursts start (s): the hands meet unevenly, in three or four touches.
_CLAP_BURSTS = (0.0, 0.01, 0.02, 0.03)

# (frequency ratio to the principal tone, amplitude, decay time s) of a timpani's (n,1) modes
# (measured on orchestral timpani: Rossing, Science of Percussion Instruments).
_TIMPANI_MODES = ((1.0, 1.0, 0.55), (1.5, 0.55, 0.4), (1.98, 0.35, 0.3), (2.44, 0.2, 0.22), (2.9, 0.12, 0.16))


def _drum(name: str, pitch: int, sr: int) -> np.ndarray:
    def tt(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr)) / sr

    if name in _KICK_DECAY:
        t = tt(0.6)
        phase = 56.0 * t + 140.0 * 0.03 * (1 - np.exp(-t / 0.03))
        body = np.sin(_TWO_PI * phase) * np.exp(-t / _KICK_DECAY[name])
        click = _noise(len(t), 11, 1500, 8000, sr) * np.exp(-t / 0.005) * 0.5
        out = body + click
    elif name == "snare":
        t = tt(0.4)
        tone = (np.sin(_TWO_PI * 185 * t) + 0.5 * np.sin(_TWO_PI * 330 * t)) * np.exp(-t / 0.05)
        out = 0.6 * tone + _noise(len(t), 12, 1200, 9000, sr) * np.exp(-t / 0.11)
    elif name in _HATS:
        lowest, decay, length = _HATS[name]
        t = tt(length)
        out = _noise(len(t), 13, lowest, 16000, sr) * np.exp(-t / decay)
    elif name == "tom":
        t = tt(0.7)
        f = midi_hz(pitch)
        phase = f * t + f * 0.6 * 0.05 * (1 - np.exp(-t / 0.05))
        out = np.sin(_TWO_PI * phase) * np.exp(-t / 0.28) + 0.2 * _noise(len(t), 14, 300, 3000, sr) * np.exp(-t / 0.03)
    elif name == "crash":
        t = tt(2.5)
        out = _noise(len(t), 15, 3000, 14000, sr) * np.exp(-t / 0.9) * np.minimum(1, t / 0.002)
    elif name == "shaker":
        t = tt(0.12)
        out = _noise(len(t), 16, 5000, 11000, sr) * np.minimum(1, t / 0.012) * np.exp(-t / 0.035)
    elif name == "taiko":
        t = tt(1.2)
        phase = 42.0 * t + 30.0 * 0.08 * (1 - np.exp(-t / 0.08))
        out = np.sin(_TWO_PI * phase) * np.exp(-t / 0.3) + 0.6 * _noise(len(t), 17, 80, 1500, sr) * np.exp(-t / 0.06)
    elif name == "timpani":
        # A kettledrum is tuned: its pitch is the (1,1) mode's, the key the sampled program plays,
        # and the kettle's air brings the (n,1) modes near harmonic ratios; the (0,1) mode radiates
        # its energy at once and is left out. Felt mallet: a soft thump under 1.5 kHz.
        t = tt(1.6)
        principal = midi_hz(INSTRUMENTS[INSTRUMENT[name]].gm[2])
        out = 0.3 * _noise(len(t), 19, 60, 1500, sr) * np.exp(-t / 0.015)
        for ratio, amp, tau in _TIMPANI_MODES:
            out = out + amp * np.sin(_TWO_PI * principal * ratio * t) * np.exp(-t / tau)
    elif name == "e_snare":
        # A drum machine's backbeat is a hand clap (the electronic kit's key 39): a few bursts of air
        # 10 ms apart as the hands meet unevenly, then the room's tail. The air cavity between the
        # palms shapes the noise, a resonance near 1 kHz (FluidR3_GM's recorded clap: its loudest
        # octave 0.7-1.4 kHz, about 3 dB less each octave above).
        t = tt(0.6)
        bursts = sum(np.where(t >= at, np.exp(-(t - at) / 0.004), 0.0) for at in _CLAP_BURSTS)
        tail = 0.8 * np.where(t >= _CLAP_BURSTS[-1], np.exp(-(t - _CLAP_BURSTS[-1]) / 0.1), 0.0)
        out = _resonant_noise(len(t), 20, 1000.0, 1.0, sr) * (bursts + tail)
    else:  # rim
        t = tt(0.08)
        out = (np.sin(_TWO_PI * 1700 * t) * 0.5 + _noise(len(t), 18, 2000, 8000, sr)) * np.exp(-t / 0.012)
    # A hit rises over 1 ms, as a struck skin or plate does: a one-shot that starts at full
    # amplitude (the noise of a kick's click, a snare's rattle) is a step, a click at every hit.
    rise = min(len(out), int(0.001 * sr))
    out[:rise] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(rise) + 0.5) / rise)
    peak = float(np.max(np.abs(out))) + 1e-9
    return (out / peak).astype(np.float32)


@functools.lru_cache(maxsize=2048)
def builtin_level(instrument: int, octave: int, brightness: int, sample_rate: int) -> float:
    """RMS of the first half second of a built-in note held that long, at full velocity, on the
    octave's G: the key, length and measure a sampled preset is calibrated by, so a preset
    standing in for the voice can be brought to the voice's level."""
    note = _render(instrument, 12 * octave + 7, sample_rate // 2, brightness, sample_rate)
    return float(np.sqrt(np.mean(note[: sample_rate // 2].astype(np.float64) ** 2)))


def velocity_gain(velocity: int) -> float:
    """Amplitude for a velocity of 1..15."""
    return (velocity / 15.0) ** 1.6


def render_note(instrument: int, pitch: int, velocity: int, duration: int, brightness: int,
                sample_rate: int) -> np.ndarray:
    """The whole note, release included, as mono float32."""
    return _render(instrument, pitch, duration, brightness, sample_rate) * np.float32(velocity_gain(velocity))


def _render(instrument: int, pitch: int, duration: int, brightness: int, sample_rate: int) -> np.ndarray:
    """The note at full velocity."""
    ins = INSTRUMENTS[instrument]
    gain = ins.level
    if ins.kind == "drum":
        return _fade_out(_drum(ins.timbre, pitch, sample_rate) * np.float32(gain), sample_rate)
    freq = midi_hz(pitch)
    sr = sample_rate
    if ins.kind == "sustain":
        n_total = duration + int(ins.release * sr)
        t = _times(n_total, sr)
        table = wavetable(ins.timbre, brightness, brightness, pitch, sr)
        wave = _oscillate(table, _phase(freq, t, ins.vibrato))
        if ins.detune_cents:
            ratio = 2.0 ** (ins.detune_cents / 1200.0)
            wave = 0.5 * (wave + _oscillate(table, _phase(freq * ratio, t, ins.vibrato) + 0.37))
        _add_player_noise(wave, ins.timbre, brightness, pitch, t, sr)
        return _fade_out(wave * _adsr(ins, duration, n_total, sr) * np.float32(gain), sr)
    # Plucks and bells decay on their own; the note's end only damps them.
    n_total = min(duration + int(ins.release * sr), int(ins.tau * 3 * sr))
    t = _times(n_total, sr)
    t32 = t.astype(np.float32)
    if ins.kind == "bell":
        partials = ((1.0, 1.0, 1.0), (2.0, 0.5, 0.7), (2.76, 0.45, 0.5), (5.4, 0.25, 0.3), (8.93, 0.12, 0.2))
        wave = np.zeros(n_total, np.float32)
        for ratio, amp, life in partials:
            if freq * ratio < 0.45 * sr:
                decay = np.exp(t32 * np.float32(-1.0 / (ins.tau * life)))
                wave += _oscillate(_SINE, freq * ratio * t) * decay * np.float32(amp)
    elif ins.timbre in _STRING_LOSS:
        wave = _string(string_tables(ins.timbre, brightness, pitch, sr), freq * t, sr)
    else:
        bright = wavetable(ins.timbre, min(7, brightness + 2), brightness, pitch, sr)
        dark = wavetable(ins.timbre, max(0, brightness - 3), brightness, pitch, sr)
        ph = freq * t
        # Upper partials die first: fade from the bright table into the dark one.
        mix = np.exp(t32 * np.float32(-4.0 / ins.tau))
        d = _oscillate(dark, ph)
        wave = (d + (_oscillate(bright, ph) - d) * mix) * np.exp(t32 * np.float32(-1.0 / ins.tau))
    _add_player_noise(wave, ins.timbre, brightness, pitch, t, sr)
    wave[: int(ins.attack * sr)] *= np.arange(int(ins.attack * sr), dtype=np.float32) / max(1, int(ins.attack * sr))
    if duration < n_total:  # damped once the note is let go
        wave[duration:] *= np.exp((t32[duration:] - t32[duration]) * np.float32(-5.0 / ins.release))
    return _fade_out(wave * np.float32(gain), sr)


def _add_player_noise(wave: np.ndarray, timbre: str, brightness: int, pitch: int, t: np.ndarray, sr: int) -> None:
    """Add to ``wave`` (in place) the noise its player excites (:data:`_NOISE`); ``t`` its times (s)."""
    found = _NOISE.get(timbre)
    if found is None:
        return
    level, decay = found
    noise = np.resize(turbulence(timbre, brightness, pitch, sr), len(wave))
    if decay is not None:
        noise = noise * np.exp(t.astype(np.float32) * np.float32(-1.0 / decay))
    wave += noise * np.float32(level)


def _fade_out(note: np.ndarray, sample_rate: int) -> np.ndarray:
    """End a note at exactly zero over its last 20 ms: a cut-off tail must not click."""
    fade = min(len(note), int(0.02 * sample_rate))
    note[len(note) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return note


_SINE = _with_slopes(np.sin(_TWO_PI * np.arange(TABLE_SIZE) / TABLE_SIZE))


def sampled_tail(ins: Instrument) -> float:
    """Seconds a sampled note rings after its key is let go (sampled releases run longer
    than the built-in envelopes); for a drum, seconds its hit may ring, its key held throughout."""
    return 2.5 if ins.kind == "drum" else max(ins.release, 0.6)


def sampled_velocity(brightness: int) -> int:
    """MIDI velocity for a brightness level of 0..7: how hard the note is played picks the
    font's sample layer and filter, which is what makes soft playing darker."""
    return 40 + 12 * brightness


_SILENT = 1e-5  # -100 dBFS: a sampled note this quiet had no sample to play

_OCTAVE_PROBES = tuple(12 * octave for octave in range(1, 9))  # C1..C8: every octave a note can be in
_TOM_KEYS = (41, 43, 45, 47, 48, 50)  # General MIDI's toms, which the composer plays by pitch


class NoteCache:
    """A byte-bounded LRU of rendered notes, from the built-in synthesizer or a SoundFont.

    Thread-safe: a prefetching thread may fill it while the generator reads it (see
    :mod:`~adaptive_music.models.procedural.prefetch`); a note being rendered by one
    thread is waited for, not rendered twice.
    """

    def __init__(self, sample_rate: int, max_bytes: int = 96 << 20, voices=None):
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes
        self.voices = voices
        self._bytes = 0
        self._notes: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[tuple, threading.Event] = {}
        self.hits = 0
        self.misses = 0
        """Notes :meth:`get` had to render (or wait for) itself."""
        self._stand_ins: dict[str, set[int]] = {}
        self._calibrate_all()

    def stand_ins(self) -> dict[str, list[int]]:
        """Keys the SoundFont has no sample at, by instrument, that the built-in voice has played."""
        with self._lock:
            return {name: sorted(keys) for name, keys in self._stand_ins.items()}

    def tail_samples(self, instrument: int) -> int:
        """Samples a note of ``instrument`` lasts beyond its duration, at most."""
        ins = INSTRUMENTS[instrument]
        if self.voices is not None:
            return int(sampled_tail(ins) * self.sample_rate) + 128  # both parts round up to 64-sample blocks
        return int(ins.release * self.sample_rate) if ins.kind != "drum" else int(2.5 * self.sample_rate)

    def _calibrate_all(self) -> None:
        """Every calibration a sampled note can need (each preset at every brightness, in every
        octave the composer writes), so that no note played live waits for one. Read from the
        file a previous process kept (:meth:`SampledVoices.save_calibrations`); computed and
        kept once per font, rate and code version (about 2 s on one core). Nothing for the
        built-in voices."""
        if self.voices is None:
            return
        known, started = self.voices.calibrated, time.perf_counter()
        for bank, program, key in dict.fromkeys(ins.gm for ins in INSTRUMENTS):
            drum = bank == 128 or key >= 0
            for brightness in (4,) if drum else range(8):
                for probe in _TOM_KEYS if bank == 128 and key < 0 else (key,) if drum else _OCTAVE_PROBES:
                    self.voices.calibrate(bank, program, probe, sampled_velocity(brightness),
                                          None if drum else presence.target_db(brightness))
        if self.voices.calibrated > known:
            log.info("calibrated %d SoundFont preset zones in %.1f s (once: kept for the next run)",
                     self.voices.calibrated - known, time.perf_counter() - started)
            self.voices.save_calibrations()

    def get(self, instrument: int, pitch: int, duration: int, brightness: int) -> np.ndarray:
        """The note at full velocity (scale it by :func:`velocity_gain`)."""
        note, rendered = self._fetch(instrument, pitch, duration, brightness)
        if rendered:
            self.misses += 1
        else:
            self.hits += 1
        return note

    def warm(self, instrument: int, pitch: int, duration: int, brightness: int) -> None:
        """Render the note into the cache unless it is there (without counting a hit or miss)."""
        self._fetch(instrument, pitch, duration, brightness)

    def _fetch(self, instrument: int, pitch: int, duration: int, brightness: int) -> tuple[np.ndarray, bool]:
        if INSTRUMENTS[instrument].kind == "drum":
            duration = 0  # one-shots ignore length
        key = (instrument, pitch, duration, brightness)
        while True:
            with self._lock:
                note = self._notes.get(key)
                if note is not None:
                    self._notes.move_to_end(key)
                    return note, False
                busy = self._rendering.get(key)
                if busy is None:
                    done = self._rendering[key] = threading.Event()
                    break
            busy.wait()  # another thread is rendering it: take theirs
            with self._lock:
                note = self._notes.get(key)
            if note is not None:
                return note, True
        try:
            note = self._render(instrument, pitch, duration, brightness)
            note.setflags(write=False)
            with self._lock:
                self._notes[key] = note
                self._bytes += note.nbytes
                while self._bytes > self.max_bytes and len(self._notes) > 1:
                    _, old = self._notes.popitem(last=False)
                    self._bytes -= old.nbytes
        finally:
            with self._lock:
                del self._rendering[key]
            done.set()
        return note, True

    def _render(self, instrument: int, pitch: int, duration: int, brightness: int) -> np.ndarray:
        ins = INSTRUMENTS[instrument]
        if self.voices is None:
            # The built-in voices take their EQ in their wavetables; their drums are band-limited already.
            return _render(instrument, pitch, duration, brightness, self.sample_rate)
        bank, program, key = ins.gm
        drum = ins.kind == "drum"
        tail = int(sampled_tail(ins) * self.sample_rate)
        # A drum hit is a one-shot: its key stays down for as long as the hit may ring, as some
        # presets end a note when its key is let go (FluidR3_GM's drum-machine kick and open hat,
        # its timpani: let go at once, the drum-machine kick fell 30 dB in 0.06 s instead of 0.28 s).
        hold, tail = (tail, 0) if drum else (max(1, duration), tail)
        velocity, presence_db = sampled_velocity(brightness), None if drum else presence.target_db(brightness)
        gain = None if drum else self._sampled_gain(instrument, bank, program, pitch, velocity, presence_db, brightness)
        note = self.voices.render(bank, program, pitch if key < 0 else key, velocity, hold, tail, presence_db, gain)
        if not np.abs(note).max(initial=0.0) > _SILENT:
            # The font has no sample at this key (FluidR3_GM's double bass ends at A3): the note
            # is played, by the built-in voice at the level it is calibrated to, and said so.
            with self._lock:
                first = pitch not in self._stand_ins.setdefault(ins.name, set())
                self._stand_ins[ins.name].add(pitch)
            if first:
                log.warning("%s has no sample for %s at MIDI key %d: the built-in voice plays it",
                            self.voices.path.name, ins.name, pitch)
            return _render(instrument, pitch, duration, brightness, self.sample_rate)
        return _fade_out(note, self.sample_rate)

    def _sampled_gain(self, instrument: int, bank: int, program: int, pitch: int, velocity: int,
                      presence_db: float, brightness: int) -> float:
        """The gain that plays a sampled preset's note at the level of the built-in voice it stands
        in for, so a mood is mixed alike by both renderers (a decaying piano or harp is not turned
        down to a held string's level, nor a solo piano 3 dB quieter than the built-in one).

        Both are measured on each octave's G; between two G's the gain goes in a straight line
        (in dB), so a melody crossing from one octave's calibration to the next does not jump. A G
        the font has no sample at (a double bass's G4) is left out: the gain holds at the other."""
        def gain_db(octave: int) -> float | None:
            calibrated, _ = self.voices.calibrate(bank, program, 12 * octave + 7, velocity, presence_db)
            if calibrated is None:
                return None
            return 20 * math.log10(calibrated * builtin_level(instrument, octave, brightness, self.sample_rate)
                                   / self.voices.reference_rms)

        below = min(max((pitch - 7) // 12, _OCTAVE_PROBES[0] // 12), _OCTAVE_PROBES[-1] // 12 - 1)
        t = min(max((pitch - 7 - 12 * below) / 12, 0.0), 1.0)
        low, high = gain_db(below), gain_db(below + 1)
        low, high = (high if low is None else low), (low if high is None else high)
        if low is None:  # the font has nothing around this key: its own level, taken to the voice's
            return builtin_level(instrument, pitch // 12, brightness, self.sample_rate) / self.voices.reference_rms
        return 10 ** (((1 - t) * low + t * high) / 20)
