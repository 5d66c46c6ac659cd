"""The score as a Standard MIDI File: a tempo track, then one track per instrument role.

Notes come straight from the procedural tokens (pitch, velocity, length,
instrument), so a composer can open a loop, layer or transition in a DAW
and re-orchestrate it. Instruments map to General MIDI programs; drums go
to channel 10 with General MIDI drum keys.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..models.procedural.instruments import INSTRUMENTS
from ..models.procedural.tokens import TRACKS, unpack_notes
from .files import atomic_write

TICKS_PER_BEAT = 480

_PROGRAM = {  # General MIDI program numbers, from 0
    "strings": 48, "choir": 52, "organ": 19, "synth_pad": 88, "piano": 0, "harp": 46, "guitar": 24,
    "bells": 14, "flute": 73, "brass": 61, "synth_lead": 80, "violin": 40, "synth_bass": 38,
    "contrabass": 43, "pizzicato": 45, "marimba": 12,
}
_DRUM_KEY = {"kick": 36, "snare": 38, "hat": 42, "open_hat": 46, "crash": 49, "shaker": 82, "rim": 37, "taiko": 35}
_CHANNEL = {"pad0": 0, "pad1": 0, "pad2": 0, "pad3": 0, "bass": 1, "arp": 2, "lead": 3, "bells": 4}
DRUM_CHANNEL = 9

Note = tuple[int, int, int, int, int, int]
"""(start sample, length in samples, pitch, velocity 1..127, instrument index, token track)."""


def notes_from_tokens(tokens: np.ndarray, spf: int, origin: int) -> list[Note]:
    """Every note in ``tokens`` (frames from 0), with starts relative to sample ``origin``."""
    rows, cols = np.nonzero(tokens[:, 1:])
    cols = cols + 1
    f = unpack_notes(tokens[rows, cols])
    starts = rows * spf + f["offset"] - origin
    return [(int(s), int(d), int(p), min(127, int(v) * 8 + 7), int(i), int(c))
            for s, d, p, v, i, c in zip(starts, f["duration"], f["pitch"], f["velocity"], f["instrument"], cols)]


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _track(events: list[tuple[int, int, bytes]]) -> bytes:
    """Events as (tick, order, bytes), sorted; note-offs (order 0) before note-ons at the same tick."""
    body, now = b"", 0
    for tick, _, data in sorted(events, key=lambda e: (e[0], e[1])):
        body += _vlq(tick - now) + data
        now = tick
    body += _vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def _name(text: str) -> bytes:
    raw = text.encode("ascii", "replace")[:127]
    return b"\xff\x03" + _vlq(len(raw)) + raw


class TempoMap:
    """Sample positions to ticks through tempo changes [(sample, bpm, beats per bar)], the first at 0."""

    def __init__(self, changes: list[tuple[int, float, int]], sample_rate: int):
        self.changes = sorted(changes)
        self.sr = sample_rate
        self.ticks = [0.0]
        for (s0, bpm, _), (s1, _, _) in zip(self.changes, self.changes[1:]):
            self.ticks.append(self.ticks[-1] + (s1 - s0) * bpm * TICKS_PER_BEAT / (60.0 * sample_rate))

    def tick(self, sample: int) -> int:
        i = max(0, sum(1 for s, _, _ in self.changes if s <= sample) - 1)
        s0, bpm, _ = self.changes[i]
        return round(self.ticks[i] + (sample - s0) * bpm * TICKS_PER_BEAT / (60.0 * self.sr))

    def events(self) -> list[tuple[int, int, bytes]]:
        out = [(0, 1, _name("tempo"))]
        for (sample, bpm, beats_per_bar) in self.changes:
            tick = self.tick(sample)
            out.append((tick, 1, b"\xff\x51\x03" + round(60_000_000 / bpm).to_bytes(3, "big")))
            out.append((tick, 1, b"\xff\x58\x04" + bytes([beats_per_bar, 2, 24, 8])))
        return out


def midi_bytes(roles: dict[str, list[Note]], tempo: TempoMap) -> bytes:
    """A format-1 SMF: a tempo/meter track, then one track per role."""
    tracks = [_track(tempo.events())]
    drum_length = tempo.sr // 10
    for role, notes in roles.items():
        events = [(0, 1, _name(role))]
        programs: dict[int, int] = {}
        for start, length, pitch, velocity, instrument, track in notes:
            name = INSTRUMENTS[instrument].name
            drum = INSTRUMENTS[instrument].kind == "drum"
            channel = DRUM_CHANNEL if drum else _CHANNEL.get(TRACKS[track], 0)
            key = pitch if name == "tom" else _DRUM_KEY.get(name, pitch) if drum else pitch
            on = max(0, tempo.tick(start))
            off = max(on + 1, tempo.tick(start + (drum_length if drum else length)))
            if not drum and programs.get(channel) != _PROGRAM.get(name, 0):
                programs[channel] = _PROGRAM.get(name, 0)
                events.append((on, 1, bytes([0xC0 | channel, programs[channel]])))
            events.append((on, 2, bytes([0x90 | channel, key & 0x7F, velocity])))
            events.append((off, 0, bytes([0x80 | channel, key & 0x7F, 0])))
        tracks.append(_track(events))
    return b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), TICKS_PER_BEAT) + b"".join(tracks)


def write_midi(path: Path, roles: dict[str, list[Note]], tempo: TempoMap) -> None:
    """Write :func:`midi_bytes` to ``path`` atomically."""
    atomic_write(path, midi_bytes(roles, tempo))
