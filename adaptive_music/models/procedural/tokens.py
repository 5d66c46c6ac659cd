"""The procedural backend's tokens: musical events packed into int64 per frame and track.

A token is 0 where nothing starts. Otherwise it is a note that starts in that
frame (pitch, velocity, duration, sample offset within the frame, instrument,
brightness), or on the control track a beat (its place in the bar, the key,
the scale and the tempo). Tokens carry everything the decoder needs, so audio
is a pure function of the token window.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .theory import SCALE_NAMES

TRACKS = ("control", "bass", "pad0", "pad1", "pad2", "pad3", "arp", "lead", "bells",
          "kick", "snare", "hat", "perc")
TRACK = {name: i for i, name in enumerate(TRACKS)}
PAD_TRACKS = tuple(TRACK[f"pad{i}"] for i in range(4))

# Note fields: (shift, bits)
_PITCH = (0, 7)
_VEL = (7, 4)
_DUR = (11, 18)  # duration in samples / 4
_OFFSET = (29, 11)
_INSTR = (40, 6)
_BRIGHT = (46, 3)
DURATION_UNIT = 4

# Control (beat) fields
_BEAT = (0, 3)
_BPB = (3, 3)
_BAR = (6, 16)
_ROOT = (22, 4)
_SCALE = (26, 3)
_BPM10 = (29, 12)
_COFFSET = (41, 11)
_FLAG = 1 << 60


def _put(value: int, field: tuple[int, int]) -> int:
    shift, bits = field
    if not 0 <= value < (1 << bits):
        raise ValueError(f"token field out of range: {value} for {bits} bits")
    return value << shift


def _get(code: np.ndarray | int, field: tuple[int, int]):
    shift, bits = field
    return (code >> shift) & ((1 << bits) - 1)


@dataclasses.dataclass(frozen=True)
class Note:
    pitch: int
    velocity: int  # 1..15
    duration: int  # samples
    offset: int  # samples after the frame start
    instrument: int
    brightness: int  # 0..7


def pack_note(n: Note) -> int:
    return (_put(n.pitch, _PITCH) | _put(n.velocity, _VEL)
            | _put(max(1, n.duration // DURATION_UNIT), _DUR) | _put(n.offset, _OFFSET)
            | _put(n.instrument, _INSTR) | _put(n.brightness, _BRIGHT))


def unpack_notes(codes: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised field extraction for an array of nonzero note codes."""
    return {
        "pitch": _get(codes, _PITCH),
        "velocity": _get(codes, _VEL),
        "duration": _get(codes, _DUR) * DURATION_UNIT,
        "offset": _get(codes, _OFFSET),
        "instrument": _get(codes, _INSTR),
        "brightness": _get(codes, _BRIGHT),
    }


@dataclasses.dataclass(frozen=True)
class Beat:
    beat: int
    beats_per_bar: int
    bar: int
    root: int
    scale: str
    bpm: float
    offset: int


def pack_beat(b: Beat) -> int:
    return (_FLAG | _put(b.beat, _BEAT) | _put(b.beats_per_bar, _BPB) | _put(b.bar % (1 << 16), _BAR)
            | _put(b.root, _ROOT) | _put(SCALE_NAMES.index(b.scale), _SCALE)
            | _put(int(round(b.bpm * 10)), _BPM10) | _put(b.offset, _COFFSET))


def unpack_beat(code: int) -> Beat:
    return Beat(beat=int(_get(code, _BEAT)), beats_per_bar=int(_get(code, _BPB)),
                bar=int(_get(code, _BAR)), root=int(_get(code, _ROOT)),
                scale=SCALE_NAMES[int(_get(code, _SCALE))], bpm=int(_get(code, _BPM10)) / 10.0,
                offset=int(_get(code, _COFFSET)))


def with_offset(code: int, offset: int, beat: bool) -> int:
    """``code`` moved ``offset`` samples into its frame (its offset field must be 0)."""
    return code | _put(offset, _COFFSET if beat else _OFFSET)
