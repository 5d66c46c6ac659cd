"""Record what a PulseAudio sink plays, with the time each sample was played.

For checking playback on machines without a sound card: play to a null sink
(``scripts/pulse-test-sink.sh start``) and record its monitor here. ``parec``
delivers the audio in small chunks as the sink plays it; the earliest
arrival, less the audio before it, bounds when the first sample was played,
which maps every captured sample onto :func:`time.monotonic`'s clock.
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
