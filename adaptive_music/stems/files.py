"""Audio files that carry their loop and tempo: OGG Vorbis comments and WAV chunks.

OGG: libsndfile (PyPI ``soundfile``) encodes the Vorbis stream, and
:mod:`.vorbis_comments` writes the comment header (``LOOPSTART`` and
``LOOPLENGTH`` in samples, as game engines and RPG Maker-style players read
them, plus ``BPM``, ``METER`` and ``BARS``). WAV: a ``smpl`` chunk with one forward
loop (Godot's "Detect from WAV" reads it) and an ``acid`` chunk with the
tempo, beat count and meter. Every file is written under a temporary name
in its folder and renamed into place, so an interrupted render never
leaves a half-written file that a re-run would trust.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import struct
from pathlib import Path

import numpy as np

from ..audio.wav import write_wav

FORMATS = ("ogg", "wav")
_OGG_BLOCK = 1 << 15


class FormatUnavailable(RuntimeError):
    """The chosen format needs a library that is not installed."""


@dataclasses.dataclass(frozen=True)
class Timing:
    """What a file says about its music: tempo, meter, length in bars, and its loop."""

    bpm: float
    beats_per_bar: int
    bars: int
    loop_start: int | None = None
    loop_length: int | None = None


def check_format(fmt: str) -> None:
    """Raise ValueError for an unknown format, FormatUnavailable when it can't be written here."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "ogg":
        try:
            import soundfile
        except ImportError as exc:
            raise FormatUnavailable(f"--format ogg needs {exc.name} (pip install 'adaptive-music[stems]')") from None
        if "OGG" not in soundfile.available_formats():
            raise FormatUnavailable("this libsndfile cannot write OGG Vorbis; use --format wav")


def smpl_chunk(sample_rate: int, start: int, length: int) -> bytes:
    """A RIFF ``smpl`` body with one forward loop over [start, start + length) (end is inclusive)."""
    header = struct.pack("<9I", 0, 0, round(1e9 / sample_rate), 60, 0, 0, 0, 1, 0)
    return header + struct.pack("<6I", 0, 0, start, start + length - 1, 0, 0)


def acid_chunk(timing: Timing, looping: bool) -> bytes:
    """An ``acid`` body: one-shot flag, root note, beats, meter and tempo (ACID's layout)."""
    flags = 0 if looping else 0x01
    beats = timing.bars * timing.beats_per_bar
    return struct.pack("<IHHfIHHf", flags, 60, 0x8000, 0.0, beats, 4, timing.beats_per_bar, timing.bpm)


def vorbis_tags(timing: Timing, title: str) -> dict[str, str]:
    tags = {"TITLE": title, "BPM": f"{timing.bpm:.4f}", "METER": f"{timing.beats_per_bar}/4",
            "BARS": str(timing.bars)}
    if timing.loop_start is not None:
        tags["LOOPSTART"] = str(timing.loop_start)
        tags["LOOPLENGTH"] = str(timing.loop_length)
    return tags


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: str, timing: Timing, title: str) -> str:
    """Write ``audio`` with its timing to ``path`` atomically; return the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    looping = timing.loop_start is not None
    if fmt == "wav":
        chunks = [(b"acid", acid_chunk(timing, looping))]
        if looping:
            chunks.insert(0, (b"smpl", smpl_chunk(sample_rate, timing.loop_start, timing.loop_length)))
        write_wav(path, audio, sample_rate, subtype="pcm16", chunks=chunks)
    else:
        _write_ogg(path, audio, sample_rate, vorbis_tags(timing, title))
    return file_sha256(path)


def _write_ogg(path: Path, audio: np.ndarray, sample_rate: int, tags: dict[str, str]) -> None:
    import soundfile

    from .vorbis_comments import set_vorbis_comments

    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp.ogg")
    try:
        # In blocks: libsndfile's Vorbis encoder crashes on some very long single writes.
        with soundfile.SoundFile(temp, "w", sample_rate, audio.shape[1], format="OGG", subtype="VORBIS") as f:
            for start in range(0, len(audio), _OGG_BLOCK):
                f.write(audio[start : start + _OGG_BLOCK])
        set_vorbis_comments(temp, tags)
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(float32 audio shaped (frames, channels), sample rate) of a stems WAV or OGG file."""
    if Path(path).suffix == ".wav":
        from ..audio.wav import read_wav

        return read_wav(path)
    import soundfile

    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return audio, rate


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
