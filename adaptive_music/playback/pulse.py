"""An output stream straight to a PulseAudio server (or PipeWire's), through libpulse's simple API.

Why not PortAudio's ALSA ``pulse`` device: there an underflow costs a whole new
server stream (see "Underflows on Linux desktops" in
:mod:`adaptive_music.playback.device`). Here the stream is made once, with
explicit buffer attributes: ``tlength`` is the requested latency, ``minreq``
one period, and ``prebuf`` one period, so that after an underflow the server
resumes the stream as soon as one period has arrived. Nothing is re-primed
and nothing is dropped: the music resumes where it stopped, and the server's
latency report moves the clock by exactly the hole.

libpulse is loaded with :mod:`ctypes` when a stream opens; without it (or
without a server) :class:`PulseUnavailable` is raised and the caller falls
back to PortAudio.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Any, Callable

import numpy as np

from .realtime import ask_for_realtime

_PA_SAMPLE_FLOAT32LE = 5
_PA_STREAM_PLAYBACK = 1
_PA_DEFAULT = 0xFFFFFFFF  # (uint32_t) -1: let the server choose
_NO_LATENCY = (1 << 64) - 1  # pa_simple_get_latency's (pa_usec_t) -1 on failure

DeliverFunction = Callable[[np.ndarray, float], None]
"""``deliver(out, heard_at)``: fill ``out`` (frames, channels), whose first frame is heard at ``heard_at``."""


class PulseUnavailable(RuntimeError):
    """libpulse is not installed, or no PulseAudio server answers."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


_libs: tuple[Any, Any] | None = None


def _libpulse() -> tuple[Any, Any]:
    """(libpulse-simple, libpulse), loaded once, with the signatures used here."""
    global _libs
    if _libs is None:
        try:
            simple, pulse = ctypes.CDLL("libpulse-simple.so.0"), ctypes.CDLL("libpulse.so.0")
        except OSError as exc:
            raise PulseUnavailable(f"libpulse is not installed ({exc})") from None
        err = ctypes.POINTER(ctypes.c_int)
        simple.pa_simple_new.restype = ctypes.c_void_p
        simple.pa_simple_new.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                         ctypes.c_char_p, ctypes.POINTER(_SampleSpec), ctypes.c_void_p,
                                         ctypes.POINTER(_BufferAttr), err]
        simple.pa_simple_write.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, err]
        simple.pa_simple_get_latency.restype = ctypes.c_uint64
        simple.pa_simple_get_latency.argtypes = [ctypes.c_void_p, err]
        simple.pa_simple_free.argtypes = [ctypes.c_void_p]
        pulse.pa_strerror.restype = ctypes.c_char_p
        pulse.pa_strerror.argtypes = [ctypes.c_int]
        _libs = simple, pulse
    return _libs


def server_present() -> bool:
    """Whether a PulseAudio (or pipewire-pulse) server is there to try, without connecting:
    its local socket exists, or ``PULSE_SERVER`` names a remote one."""
    servers = os.environ.get("PULSE_SERVER", "").split()
    if servers:
        sockets = [s.removeprefix("unix:") for s in servers if s.startswith(("unix:", "/"))]
        return len(sockets) < len(servers) or any(os.path.exists(s) for s in sockets)
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return os.path.exists(os.path.join(runtime, "pulse", "native"))


class PulseStream:
    """Plays float32 audio to the default PulseAudio sink from its own real-time thread.

    The thread asks for real-time scheduling before it connects, so the
    connection's own I/O thread (which libpulse starts from it) inherits that
    priority. Each loop asks the server for the stream's latency, hands the
    next period to ``deliver`` with the time its first frame will be heard,
    and writes it (blocking while the server's buffer is full).

    Parameters
    ----------
    deliver
        Fills each period; called on the audio thread.
    latency
        Target buffer (``tlength``) in seconds: the most silence one underflow can add.
    period
        Frames per write, and the server's ``minreq`` and ``prebuf``.
    finished
        Called (on the audio thread) when the stream ends by itself, e.g. the server went away.
    """

    _OPEN_TIMEOUT = 10.0  # seconds for the server to accept the stream

    def __init__(self, deliver: DeliverFunction, sample_rate: int, channels: int, latency: float, period: int,
                 finished: Callable[[], None] = lambda: None) -> None:
        self._simple, self._pulse = _libpulse()
        self._deliver = deliver
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.period = max(1, int(period))
        frame_bytes = 4 * self.channels
        self._spec = _SampleSpec(_PA_SAMPLE_FLOAT32LE, self.sample_rate, self.channels)
        tlength = max(self.period, round(latency * self.sample_rate))
        self._attr = _BufferAttr(_PA_DEFAULT, tlength * frame_bytes, self.period * frame_bytes,
                                 self.period * frame_bytes, _PA_DEFAULT)
        self.latency = tlength / self.sample_rate
        """The server-side buffer asked for, in seconds."""
        self.active = False
        self._finished = finished
        self._running = False
        self._opened = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect and start playing; raises :class:`PulseUnavailable` when the server refuses."""
        self._running = True
        self._thread = threading.Thread(target=self._run, name="adaptive-music-pulse", daemon=True)
        self._thread.start()
        if not self._opened.wait(self._OPEN_TIMEOUT):
            self._running = False
            raise PulseUnavailable("the PulseAudio server did not accept the stream in time")
        if self._error is not None:
            self._thread.join()
            raise PulseUnavailable(self._error)

    def abort(self) -> None:
        """Stop at once; what the server holds is dropped."""
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._OPEN_TIMEOUT)

    def close(self) -> None:
        self.abort()

    def _strerror(self, code: int) -> str:
        return self._pulse.pa_strerror(code).decode(errors="replace")

    def _run(self) -> None:
        ask_for_realtime()
        simple, err = self._simple, ctypes.c_int(0)
        conn = simple.pa_simple_new(None, b"adaptive-music", _PA_STREAM_PLAYBACK, None, b"music",
                                    ctypes.byref(self._spec), None, ctypes.byref(self._attr), ctypes.byref(err))
        if not conn:
            self._error = f"cannot connect to PulseAudio: {self._strerror(err.value)}"
            self._opened.set()
            return
        self.active = True
        self._opened.set()
        buf = np.zeros((self.period, self.channels), np.float32)
        address, nbytes = buf.ctypes.data, buf.nbytes
        try:
            while self._running:
                usec = simple.pa_simple_get_latency(conn, ctypes.byref(err))
                if usec == _NO_LATENCY:
                    break
                self._deliver(buf, time.monotonic() + usec / 1e6)
                if simple.pa_simple_write(conn, address, nbytes, ctypes.byref(err)) < 0:
                    break
        finally:
            self.active = False
            simple.pa_simple_free(conn)
        if self._running:  # ended by itself: the server went away
            self._finished()
