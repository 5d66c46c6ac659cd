"""Record what a PulseAudio sink plays, with the time each sample was played.

For checking playback on machines without a sound card: play to a null sink
(``scripts/pulse-test-sink.sh start``) and record its monitor here. ``parec``
delivers the audio in small chunks as the sink plays it; the earliest
arrival, less the audio before it, bounds when the first sample was played,
which maps every captured sample onto :func:`time.monotonic`'s clock.
:func:`walk_holes` then compares a capture with the offline render of the
same music: equal between holes of silence, after which the music resumes.
"""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np


class PulseCapture:
    """Records ``source`` (float32, ``channels`` wide) with ``parec`` until :meth:`stop`.

    Parameters
    ----------
    source
        PulseAudio source, e.g. ``testsink.monitor``.
    latency
        Requested capture latency in seconds; smaller times samples more closely.
    """

    def __init__(self, source: str = "testsink.monitor", *, sample_rate: int = 48000, channels: int = 2,
                 latency: float = 0.005) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self._cmd = ["parec", "-d", source, "--format=float32le", f"--rate={sample_rate}",
                     f"--channels={channels}", "--raw", f"--latency-msec={max(1, round(latency * 1000))}"]
        self._chunks: list[bytes] = []
        self._arrivals: list[tuple[float, int]] = []  # (time, bytes received so far)
        self._received = 0
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start recording; return once audio (silence, at first) is arriving."""
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while self._received < self.sample_rate * self.channels * 4 // 10:  # 0.1 s
            if self._proc.poll() is not None:
                raise RuntimeError(f"parec exited: {self._proc.stderr.read().decode(errors='replace').strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("parec delivered no audio")
            time.sleep(0.01)

    def _read(self) -> None:
        out = self._proc.stdout
        while True:
            chunk = out.read1(1 << 16)
            if not chunk:
                return
            self._received += len(chunk)
            self._chunks.append(chunk)
            self._arrivals.append((time.monotonic(), self._received))

    def stop(self) -> np.ndarray:
        """Stop recording; return everything recorded, shape (frames, channels)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait()
        if self._reader is not None:
            self._reader.join()
        return self.audio

    @property
    def audio(self) -> np.ndarray:
        data = b"".join(self._chunks)
        frame = 4 * self.channels
        return np.frombuffer(data[: len(data) // frame * frame], np.float32).reshape(-1, self.channels)

    def played_at(self, frame: float) -> float:
        """When captured frame ``frame`` was played by the sink, on the monotonic clock
        (an upper bound, within the capture latency)."""
        frame_bytes = 4 * self.channels
        first = min(t - n / frame_bytes / self.sample_rate for t, n in self._arrivals)
        return first + frame / self.sample_rate


class CaptureMismatch(ValueError):
    """A capture that is not the reference with holes in it."""


def align(capture: np.ndarray, reference: np.ndarray) -> int:
    """Offset of ``reference`` in ``capture``: where its first 64 sounding frames appear, exactly
    (float32 passes through the sink unchanged)."""
    k = int(np.flatnonzero(np.any(reference != 0, axis=1))[0])
    for at in np.flatnonzero(np.all(capture == reference[k], axis=1)):
        if np.array_equal(capture[at:at + 64], reference[k:k + 64]):
            return int(at) - k
    raise CaptureMismatch("the start of the music is not in the capture")


def walk_holes(heard: np.ndarray, reference: np.ndarray, atol: float = 1e-6, most_skipped: int = 1920,
               longest: int = 48000) -> list[tuple[int, int, int]]:
    """Match ``heard`` (a capture from the first sample of ``reference`` on) against ``reference``,
    allowing holes: stretches (at most ``longest`` frames) where the capture is not the music,
    after which the music resumes exactly, at most ``most_skipped`` frames later than it stopped.
    A device underflow is digital silence (a recording of a sink that rewinds also skips music the
    sink played, see :mod:`adaptive_music.playback.device`); a ring underrun fades out to silence and
    back in.

    Returns the holes as (reference sample they start at, frames of capture in the hole,
    reference frames skipped). A capture that differs from the reference in any other way, or
    ends before it does, raises :class:`CaptureMismatch`.
    """
    holes = []
    c = r = 0
    while r < len(reference):
        n = min(len(reference) - r, len(heard) - c)
        if n <= 0:
            raise CaptureMismatch(f"the capture ends {len(reference) - r} frames before the music does")
        differs = np.flatnonzero(np.any(np.abs(heard[c:c + n] - reference[r:r + n]) > atol, axis=1))
        if not len(differs):
            c, r = c + n, r + n
            continue
        c, r = c + int(differs[0]), r + int(differs[0])
        resumed = _resume(heard, c, reference, r, most_skipped, longest, atol)
        if resumed is None:
            raise CaptureMismatch(f"the capture differs from the render at sample {r}, and not by a hole")
        at, skipped = resumed
        gone = reference[r + skipped - (at - c):r + skipped] if r + skipped >= at - c else None
        if not _quiet(heard[c:at], heard[c - 1] if c else np.zeros(2, np.float32), gone):
            raise CaptureMismatch(f"the capture differs from the render at sample {r}: {at - c} frames that are "
                                  "neither silence nor a fade")
        holes.append((r, at - c, skipped))
        c, r = at, r + skipped
    return holes


def _quiet(hole: np.ndarray, last: np.ndarray, resumed: np.ndarray | None) -> bool:
    """Whether every frame of ``hole`` is silence, a fade of ``last`` (the frame before it), or a
    fade of the music it resumes with (``resumed``: the reference frames it stands for)."""
    def faded(frames: np.ndarray, of: np.ndarray) -> np.ndarray:
        gain = np.sum(frames * of, axis=1) / np.maximum(np.sum(of * of, axis=1), 1e-12)
        return (gain >= -1e-3) & (gain <= 1 + 1e-3) & np.all(np.abs(frames - gain[:, None] * of) <= 1e-4, axis=1)

    ok = np.all(hole == 0, axis=1) | faded(hole, np.broadcast_to(last, hole.shape))
    if resumed is not None and len(resumed) == len(hole):
        ok |= faded(hole, resumed)
    return bool(np.all(ok))


def _resume(heard, c, reference, r, most_skipped, longest, atol, probe=16):
    """(capture index, reference frames skipped) of the first place after ``c`` where ``probe``
    frames of the capture equal the reference from up to ``most_skipped`` frames after ``r``."""
    span = reference[r:r + most_skipped + probe]
    windows = np.lib.stride_tricks.sliding_window_view(span, (probe, span.shape[1]))[:, 0]
    firsts = windows[:, 0]
    for at in range(c + 1, min(len(heard) - probe, c + longest) + 1):
        candidates = np.flatnonzero(np.all(np.abs(firsts - heard[at]) <= atol, axis=1))
        for k in candidates:
            if np.all(np.abs(windows[k] - heard[at:at + probe]) <= atol):
                return at, int(k)
    return None
