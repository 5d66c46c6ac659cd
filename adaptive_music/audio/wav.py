"""WAV files: atomic writing, streaming writing and reading.

Writes RIFF/WAVE with 16-, 24- or 32-bit integer PCM or 32-bit float
samples (WAVE_FORMAT_EXTENSIBLE for more than two channels). Reads the same
plus 8-bit PCM and 64-bit float. A file being written lives under a
temporary name in the destination folder and replaces the destination only
once it is complete, so a failed or interrupted write never leaves a
half-written file at ``path``.
"""

from __future__ import annotations

import os
import secrets
import struct
from typing import BinaryIO, Sequence

import numpy as np

SUBTYPES = ("float32", "pcm16", "pcm24", "pcm32")
"""Sample encodings :func:`write_wav` and :class:`WavWriter` accept."""

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
# A WAVE_FORMAT_EXTENSIBLE sub-format GUID is the plain format tag followed
# by these fixed 14 bytes.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_MAX_RIFF = 0xFFFFFFFF


class WavError(ValueError):
    """A file that is not a WAV file this module can read, or a write it refuses."""


def _format(subtype: str) -> tuple[int, int]:
    """(format tag, bits per sample) for a subtype name."""
    if subtype not in SUBTYPES:
        raise ValueError(f"unknown WAV subtype {subtype!r}; choose one of {', '.join(SUBTYPES)}")
    return (_FLOAT, 32) if subtype == "float32" else (_PCM, int(subtype[3:]))


def _encode(audio: np.ndarray, subtype: str) -> bytes:
    """Float samples (frames, channels) as interleaved little-endian bytes.
    Integer PCM clips to ±1.0 and scales by 2**(bits-1)."""
    if subtype == "float32":
        return audio.astype("<f4").tobytes()
    bits = int(subtype[3:])
    full = float(1 << (bits - 1))
    ints = np.clip(np.round(audio.astype(np.float64) * full), -full, full - 1)
    if bits == 16:
        return ints.astype("<i2").tobytes()
    if bits == 32:
        return ints.astype("<i4").tobytes()
    # 24-bit: the low three bytes of each little-endian int32.
    return ints.astype("<i4").reshape(-1).view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


class WavWriter:
    """Write a WAV file block by block; it appears at ``path`` on :meth:`close`.

    Use as a context manager: leaving the block normally closes (finalises
    the header and moves the file into place), leaving it by an exception
    aborts (deletes the partial file)::

        with WavWriter("live.wav", 48000, channels=2, subtype="pcm24") as out:
            for block in stream:
                out.write(block)
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int = 2, subtype: str = "float32",
                 chunks: Sequence[tuple[bytes, bytes]] = ()):
        self._tag, self._bits = _format(subtype)
        for cid, _ in chunks:
            if len(cid) != 4 or cid in (b"fmt ", b"fact", b"data"):
                raise ValueError(f"extra chunk ids must be 4 bytes and not fmt/fact/data, got {cid!r}")
        # Extra chunks (for example smpl loop points) follow the data chunk.
        self._extra = b"".join(cid + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1)
                               for cid, body in chunks)
        if not (isinstance(sample_rate, (int, np.integer)) and 0 < sample_rate < 2**31):
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        if not (isinstance(channels, (int, np.integer)) and 1 <= channels <= 64):
            raise ValueError(f"channels must be an integer from 1 to 64, got {channels!r}")
        self.path = os.fspath(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.subtype = subtype
        self._frames = 0
        folder, name = os.path.split(os.path.abspath(self.path))
        self._temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        # os.open with 0o666 lets the umask set the final file's mode, as a
        # plain open() would.
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        try:
            self._header_len = self._file.write(self._header(0))
        except BaseException:
            self.abort()
            raise

    @property
    def frames(self) -> int:
        """Frames (samples per channel) written so far."""
        return self._frames

    @property
    def closed(self) -> bool:
        return self._file is None

    def _header(self, frames: int) -> bytes:
        block_align = self.channels * self._bits // 8
        data_len = frames * block_align
        fmt = struct.pack(
            "<HHIIHH",
            _EXTENSIBLE if self.channels > 2 else self._tag,
            self.channels,
            self.sample_rate,
            self.sample_rate * block_align,
            block_align,
            self._bits,
        )
        if self.channels > 2:
            # valid bits, channel mask (0: no speaker positions), sub-format GUID
            fmt += struct.pack("<HHI", 22, self._bits, 0) + struct.pack("<H", self._tag) + _GUID_TAIL
        elif self._tag != _PCM:
            fmt += struct.pack("<H", 0)  # non-PCM formats carry an (empty) extension size
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
        if self._tag != _PCM:
            chunks += b"fact" + struct.pack("<II", 4, frames)  # required for non-PCM data
        chunks += b"data" + struct.pack("<I", data_len)
        riff_len = 4 + len(chunks) + data_len + (data_len & 1) + len(self._extra)
        return b"RIFF" + struct.pack("<I", riff_len) + b"WAVE" + chunks

    def write(self, audio: np.ndarray) -> None:
        """Append float frames shaped (frames, channels), or (frames,) for mono."""
        if self._file is None:
            raise ValueError("write to a closed WavWriter")
        x = np.asarray(audio)
        if x.ndim == 1 and self.channels == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            raise ValueError(f"audio must be shaped (frames, {self.channels}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"audio must hold floats (full scale ±1.0), got {x.dtype}")
        if not np.isfinite(x).all():
            raise ValueError("audio contains NaN or infinite samples")
        data_len = (self._frames + len(x)) * self.channels * self._bits // 8
        if self._header_len - 8 + data_len + 1 + len(self._extra) > _MAX_RIFF:
            raise WavError("a WAV file holds at most 4 GiB; this block would exceed it")
        self._file.write(_encode(x, self.subtype))
        self._frames += len(x)

    def close(self) -> None:
        """Finalise the header and move the file to ``path``. Idempotent."""
        if self._file is None:
            return
        try:
            data_len = self._frames * self.channels * self._bits // 8
            if data_len & 1:
                self._file.write(b"\x00")  # chunks are word-aligned
            self._file.write(self._extra)
            self._file.seek(0)
            self._file.write(self._header(self._frames))
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was."""
        if self._file is not None:
            self._file.close()
            self._file = None
        try:
            os.unlink(self._temp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, *, subtype: str = "float32",
              chunks: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """Write float ``audio`` shaped (frames, channels) or (frames,) to ``path``, atomically.

    ``subtype`` is ``"float32"``, ``"pcm16"``, ``"pcm24"`` or ``"pcm32"``;
    integer PCM clips samples beyond ±1.0. ``chunks`` are extra (id, body)
    chunks written after the data. On any error ``path`` is left as it was.
    """
    x = np.asarray(audio)
    if x.ndim not in (1, 2):
        raise ValueError(f"audio must be shaped (frames,) or (frames, channels), got {x.shape}")
    channels = 1 if x.ndim == 1 else x.shape[1]
    _format(subtype)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"audio must hold floats (full scale ±1.0), got {x.dtype}")
    with WavWriter(path, sample_rate, channels, subtype, chunks) as out:
        out.write(x)


def _parse_fmt(body: bytes) -> tuple[int, int, int, int]:
    """(format tag, channels, sample rate, bits) from a fmt chunk body."""
    if len(body) < 16:
        raise WavError("malformed WAV: fmt chunk is too short")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _GUID_TAIL:
            raise WavError("malformed WAV: bad WAVE_FORMAT_EXTENSIBLE sub-format")
        tag = struct.unpack("<H", body[24:26])[0]
    if channels == 0 or rate == 0 or bits % 8 or block_align != channels * bits // 8:
        raise WavError(f"malformed WAV: {channels} channels, {rate} Hz, {bits} bits, block align {block_align}")
    if (tag, bits) not in {(_PCM, 8), (_PCM, 16), (_PCM, 24), (_PCM, 32), (_FLOAT, 32), (_FLOAT, 64)}:
        raise WavError(f"unsupported WAV encoding: format tag 0x{tag:04X} with {bits}-bit samples")
    return tag, channels, rate, bits


def _decode(raw: bytes, tag: int, bits: int) -> np.ndarray:
    """Interleaved sample bytes as float32, full scale ±1.0."""
    if tag == _FLOAT:
        return np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
    if bits == 8:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 24:
        # Put each 3-byte sample in the top of an int32: the sign comes along.
        wide = np.zeros((len(raw) // 3, 4), np.uint8)
        wide[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        return (wide.view("<i4")[:, 0] / 2.0**31).astype(np.float32)
    ints = np.frombuffer(raw, "<i2" if bits == 16 else "<i4")
    return (ints / float(1 << (bits - 1))).astype(np.float32)


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a WAV file as (float32 audio shaped (frames, channels), sample rate).

    Reads 8/16/24/32-bit integer PCM and 32/64-bit float, plain or
    WAVE_FORMAT_EXTENSIBLE. Raises :class:`WavError` for anything else, and
    for truncated files.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError(f"{os.fspath(path)}: not a WAV file (no RIFF/WAVE header)")
        fmt = data = None
        while fmt is None or data is None:
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if f.tell() + length > size:
                raise WavError(
                    f"{os.fspath(path)}: truncated WAV: the {cid.decode('latin-1')!r} chunk declares "
                    f"{length} bytes but only {size - f.tell()} remain"
                )
            if cid == b"fmt ":
                fmt = _parse_fmt(f.read(length))
                f.seek(length & 1, os.SEEK_CUR)
            elif cid == b"data":
                data = (f.tell(), length)
                f.seek(length + (length & 1), os.SEEK_CUR)
            else:
                f.seek(length + (length & 1), os.SEEK_CUR)
        if fmt is None or data is None:
            missing = "fmt" if fmt is None else "data"
            raise WavError(f"{os.fspath(path)}: truncated or malformed WAV: no {missing} chunk")
        tag, channels, rate, bits = fmt
        offset, length = data
        if length % (channels * bits // 8):
            raise WavError(f"{os.fspath(path)}: truncated WAV: data is not a whole number of frames")
        f.seek(offset)
        raw = f.read(length)
    return _decode(raw, tag, bits).reshape(-1, channels), rate
