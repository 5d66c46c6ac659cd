"""An output stream straight to a PulseAudio server (or PipeWire's), through libpulse.

Why not PortAudio's ALSA ``pulse`` device: there an underflow costs a whole new
server stream (see "Underflows on Linux desktops" in
:mod:`adaptive_music.playback.device`). Here the stream is made once, with
explicit buffer attributes: ``tlength`` is the requested latency, ``minreq``
one period, and ``prebuf`` one period, so that after an underflow the server
resumes the stream as soon as one period has arrived. Nothing is re-primed
and nothing is dropped: the music resumes where it stopped, and the server's
latency report moves the clock by exactly the hole.

The stream uses libpulse's asynchronous API with the flags its simple API
sets (interpolated timing, automatic timing updates, latency adjusted on
the sink), on a main loop that the audio thread iterates itself: no other
thread and no callback into Python. Unlike the simple API, it can change
``tlength`` while playing (``pa_stream_set_buffer_attr``), which
:meth:`PulseStream.request_latency` does without a gap.

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
_PA_DEFAULT = 0xFFFFFFFF  # (uint32_t) -1: let the server choose
_PA_CONTEXT_NOAUTOSPAWN = 1
_PA_CONTEXT_READY, _PA_CONTEXT_FAILED, _PA_CONTEXT_TERMINATED = 4, 5, 6
_PA_STREAM_READY, _PA_STREAM_FAILED, _PA_STREAM_TERMINATED = 2, 3, 4
# What pa_simple_new asks for: PA_STREAM_INTERPOLATE_TIMING | AUTO_TIMING_UPDATE | ADJUST_LATENCY.
_PA_STREAM_FLAGS = 0x0002 | 0x0008 | 0x2000
_PA_SEEK_RELATIVE = 0
_SIZE_MAX = ctypes.c_size_t(-1).value  # pa_stream_writable_size's (size_t) -1 on failure

DeliverFunction = Callable[[np.ndarray, float], None]
"""``deliver(out, heard_at)``: fill ``out`` (frames, channels), whose first frame is heard at ``heard_at``."""


class PulseUnavailable(RuntimeError):
    """libpulse is not installed, or no PulseAudio server answers."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


_lib: Any = None


def _libpulse() -> Any:
    """libpulse, loaded once, with the signatures used here."""
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libpulse.so.0")
        except OSError as exc:
            raise PulseUnavailable(f"libpulse is not installed ({exc})") from None
        p, i, u64, size = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_size_t
        signatures = {
            "pa_mainloop_new": (p, []), "pa_mainloop_get_api": (p, [p]), "pa_mainloop_iterate": (i, [p, i, p]),
            "pa_mainloop_wakeup": (None, [p]), "pa_mainloop_free": (None, [p]),
            "pa_context_new": (p, [p, ctypes.c_char_p]), "pa_context_connect": (i, [p, ctypes.c_char_p, i, p]),
            "pa_context_get_state": (i, [p]), "pa_context_errno": (i, [p]),
            "pa_context_disconnect": (None, [p]), "pa_context_unref": (None, [p]),
            "pa_stream_new": (p, [p, ctypes.c_char_p, ctypes.POINTER(_SampleSpec), p]),
            "pa_stream_connect_playback": (i, [p, ctypes.c_char_p, ctypes.POINTER(_BufferAttr), i, p, p]),
            "pa_stream_get_state": (i, [p]), "pa_stream_writable_size": (size, [p]),
            "pa_stream_write": (i, [p, p, size, p, ctypes.c_int64, i]),
            "pa_stream_get_latency": (i, [p, ctypes.POINTER(u64), ctypes.POINTER(i)]),
            "pa_stream_set_buffer_attr": (p, [p, ctypes.POINTER(_BufferAttr), p, p]),
            "pa_operation_unref": (None, [p]),
            "pa_stream_disconnect": (i, [p]), "pa_stream_unref": (None, [p]),
            "pa_strerror": (ctypes.c_char_p, [i]),
        }
        for name, (restype, argtypes) in signatures.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        _lib = lib
    return _lib


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

    The thread asks for real-time scheduling, connects, and then runs the
    connection's main loop itself: each time the server has room for a
    period, it asks for the stream's latency, hands the period to
    ``deliver`` with the time its first frame will be heard, and writes it.

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
    ready
        ``ready(frames)``: whether ``deliver`` can fill that many frames from audio already made.
        While it says no, a write waits for it (sleeping, so that the generator runs), for up to
        two periods and never closer than two periods to the server running dry, rather than
        write the silence of a ring underrun. After a stall the server asks for its whole buffer
        at once, and a buffer widened past what the generator keeps ahead asked the ring for more
        than it held (six 60-ms stalls at up to 100 ms: 46-55 ring underruns, none with the wait).
    """

    _OPEN_TIMEOUT = 10.0  # seconds for the server to accept the stream

    def __init__(self, deliver: DeliverFunction, sample_rate: int, channels: int, latency: float, period: int,
                 finished: Callable[[], None] = lambda: None, ready: Callable[[int], bool] | None = None) -> None:
        self._lib = _libpulse()
        self._deliver = deliver
        self._ready = ready
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.period = max(1, int(period))
        self._spec = _SampleSpec(_PA_SAMPLE_FLOAT32LE, self.sample_rate, self.channels)
        self.latency = self._tlength(latency) / self.sample_rate
        """The server-side buffer asked for now, in seconds."""
        self._wanted = self.latency
        self.active = False
        self._finished = finished
        self._running = False
        self._opened = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: int | None = None
        self._loop_lock = threading.Lock()  # the loop is freed on the audio thread while others wake it

    def _tlength(self, latency: float) -> int:
        return max(self.period, round(latency * self.sample_rate))

    def _attr(self, latency: float) -> _BufferAttr:
        frame_bytes = 4 * self.channels
        return _BufferAttr(_PA_DEFAULT, self._tlength(latency) * frame_bytes, self.period * frame_bytes,
                           self.period * frame_bytes, _PA_DEFAULT)

    def start(self) -> None:
        """Connect and start playing; raises :class:`PulseUnavailable` when the server refuses."""
        self._running = True
        self._thread = threading.Thread(target=self._run, name="adaptive-music-pulse", daemon=True)
        self._thread.start()
        if not self._opened.wait(self._OPEN_TIMEOUT):
            self._stop_thread()
            raise PulseUnavailable("the PulseAudio server did not accept the stream in time")
        if self._error is not None:
            self._thread.join()
            raise PulseUnavailable(self._error)

    # A wider buffer is filled from the ring ahead of real time; one period more per this many
    # periods played keeps that pull within what the generator refills (a step at once drained it).
    _WIDEN_EVERY = 10
    _WAIT = 0.0005  # seconds between looks at ``ready`` while the server still holds audio

    def request_latency(self, latency: float) -> None:
        """Ask the server for a buffer of ``latency`` seconds, from any thread. A wider one
        grows by one period every few periods, delaying what is written from then on; a
        narrower one is asked for at once, and the buffer runs down. The music stays
        continuous either way."""
        self._wanted = self._tlength(latency) / self.sample_rate

    def abort(self) -> None:
        """Stop at once; what the server holds is dropped."""
        self._stop_thread()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self._OPEN_TIMEOUT)

    def close(self) -> None:
        self.abort()

    def _stop_thread(self) -> None:
        self._running = False
        with self._loop_lock:
            if self._loop is not None:
                self._lib.pa_mainloop_wakeup(self._loop)

    def _fail(self, why: str, code: int) -> None:
        self._error = f"{why}: {self._lib.pa_strerror(code).decode(errors='replace')}"

    def _iterate_until(self, state: Callable[[], int], ready: int, bad: tuple[int, ...]) -> bool:
        """Run the main loop until ``state()`` is ``ready`` (True) or one of ``bad`` (False)."""
        while self._running:
            now = state()
            if now == ready or now in bad:
                return now == ready
            if self._lib.pa_mainloop_iterate(self._loop, 1, None) < 0:
                return False
        return False

    def _run(self) -> None:
        ask_for_realtime()
        lib = self._lib
        with self._loop_lock:
            self._loop = lib.pa_mainloop_new()
        context = stream = None
        try:
            context = lib.pa_context_new(lib.pa_mainloop_get_api(self._loop), b"adaptive-music")
            if lib.pa_context_connect(context, None, _PA_CONTEXT_NOAUTOSPAWN, None) < 0 or not self._iterate_until(
                    lambda: lib.pa_context_get_state(context), _PA_CONTEXT_READY,
                    (_PA_CONTEXT_FAILED, _PA_CONTEXT_TERMINATED)):
                self._fail("cannot connect to PulseAudio", lib.pa_context_errno(context))
                return
            stream = lib.pa_stream_new(context, b"music", ctypes.byref(self._spec), None)
            attr = self._attr(self.latency)
            if not stream or lib.pa_stream_connect_playback(stream, None, ctypes.byref(attr), _PA_STREAM_FLAGS,
                                                            None, None) < 0 or not self._iterate_until(
                    lambda: lib.pa_stream_get_state(stream), _PA_STREAM_READY,
                    (_PA_STREAM_FAILED, _PA_STREAM_TERMINATED)):
                self._fail("PulseAudio refused the stream", lib.pa_context_errno(context))
                return
            self.active = True
            self._opened.set()
            self._play(stream)
        finally:
            self.active = False
            self._opened.set()
            if stream:
                lib.pa_stream_disconnect(stream)
                lib.pa_stream_unref(stream)
            if context:
                lib.pa_context_disconnect(context)
                lib.pa_context_unref(context)
            with self._loop_lock:
                lib.pa_mainloop_free(self._loop)
                self._loop = None
        if self._running and self._error is None:  # ended by itself: the server went away
            self._finished()

    def _play(self, stream: int) -> None:
        lib, loop = self._lib, self._loop
        buf = np.zeros((self.period, self.channels), np.float32)
        address, nbytes = buf.ctypes.data, buf.nbytes
        usec, negative = ctypes.c_uint64(0), ctypes.c_int(0)
        step, written = self.period / self.sample_rate, 0
        ready, wait_until = self._ready, None
        while self._running:
            wanted = self._wanted
            if wanted < self.latency or (wanted > self.latency and written >= self._WIDEN_EVERY):
                self.latency = wanted if wanted < self.latency else min(wanted, self.latency + step)
                attr = self._attr(self.latency)
                lib.pa_operation_unref(lib.pa_stream_set_buffer_attr(stream, ctypes.byref(attr), None, None))
                written = 0
            room = lib.pa_stream_writable_size(stream)
            if room == _SIZE_MAX or lib.pa_stream_get_state(stream) != _PA_STREAM_READY:
                return
            # Wait for the server: for room, or for the first timing update to know the latency.
            if room < nbytes or lib.pa_stream_get_latency(stream, ctypes.byref(usec), ctypes.byref(negative)) < 0:
                if lib.pa_mainloop_iterate(loop, 1, None) < 0:
                    return
                continue
            ahead = 0 if negative.value else usec.value / 1e6  # until what is written now is heard
            if ready is not None and not ready(self.period):
                now = time.monotonic()
                if wait_until is None:  # the server runs dry after ``ahead``: keep two periods of it
                    wait_until = now + min(ahead - 2 * step, 2 * step)
                if now < wait_until:
                    lib.pa_mainloop_iterate(loop, 0, None)
                    time.sleep(self._WAIT)
                    continue
            wait_until = None
            self._deliver(buf, time.monotonic() + ahead)
            if lib.pa_stream_write(stream, address, nbytes, None, 0, _PA_SEEK_RELATIVE) < 0:
                return
            written += 1
            lib.pa_mainloop_iterate(loop, 0, None)  # send it now
