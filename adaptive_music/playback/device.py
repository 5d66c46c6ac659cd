"""Where the audio goes: a sound device (PortAudio through ``sounddevice``) or a clocked WAV file.

``sounddevice`` is imported only when a device is opened: without the
PortAudio library its import raises OSError, and rendering to files must not
need it.

The stream's callback hands each buffer to the player's ``fill`` function
with the time, on :func:`time.monotonic`'s clock, at which the buffer's first
frame reaches the speaker (PortAudio's output DAC time). A watchdog thread
reopens the stream when the device goes away, and says so in the log.

:class:`ClockedFileSink` runs the same pipeline on machines without a sound
card: a thread paced by the monotonic clock takes buffers in real time, as a
device would, and writes them to a WAV file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

FillFunction = Callable[[np.ndarray, float], None]
"""``fill(out, heard_at)``: fill ``out`` (frames, channels) whose first frame is heard at ``heard_at``."""


class NoAudioDeviceError(RuntimeError):
    """There is no sound output to play to."""


class DeviceNotFoundError(ValueError):
    """The requested output device does not exist; the message lists those that do."""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library is missing
        raise NoAudioDeviceError(
            f"cannot play audio here: {exc}. Install PortAudio (for example "
            "`apt-get install libportaudio2`), or write the music to a file with "
            "`adaptive-music render`."
        ) from None
    return sounddevice


def output_devices() -> list[str]:
    """Names of the output devices PortAudio can see, with their host API."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    return [
        f"{d['index']}: {d['name']} ({apis[d['hostapi']]['name']})"
        for d in sd.query_devices()
        if d["max_output_channels"] > 0
    ]


def resolve_device(device: int | str | None) -> int | str | None:
    """Check that ``device`` names an output device; return it as sounddevice accepts it.

    ``None`` means the system default. Raises :class:`DeviceNotFoundError`
    listing the devices that exist, or :class:`NoAudioDeviceError` when there
    are none.
    """
    sd = _sounddevice()
    names = output_devices()
    if not names:
        raise NoAudioDeviceError(
            "no sound output device found; write the music to a file with `adaptive-music render` instead"
        )
    if device is None:
        return None
    try:
        sd.query_devices(device, "output")
    except (ValueError, sd.PortAudioError) as exc:
        listing = "\n  ".join(names)
        raise DeviceNotFoundError(f"{exc}; the output devices are:\n  {listing}") from None
    return device


class DeviceOutput:
    """Plays through a sound device.

    Parameters
    ----------
    device
        Device index or (part of a) name, as ``sounddevice`` takes it; None for the default.
    blocksize
        Frames per callback; 0 lets the host choose (often the lowest latency).
    latency
        Requested output latency in seconds.
    """

    _RESTART_PAUSE = 1.0  # seconds between attempts to reopen a lost device
    # Seconds without a callback after which a running stream counts as lost;
    # PulseAudio can pause a fresh stream for up to about 2 s.
    _STALL = 3.0

    def __init__(self, device: int | str | None = None, *, blocksize: int = 0, latency: float = 0.02) -> None:
        _check_latency(latency)
        self.device = resolve_device(device)
        self.sample_rate = 0
        self.channels = 0
        self.blocksize = int(blocksize)
        self.requested_latency = float(latency)
        self.latency = float(latency)
        """Output latency the open stream reports, in seconds."""
        self.output_underflows = 0
        """Callbacks whose status carried ``output_underflow``: the host ran out of audio."""
        self.restarts = 0
        self._fill: FillFunction | None = None
        self._stream: Any = None
        self._callbacks = 0
        self._realtime_tried = False
        self._running = False
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Event()

    def spec(self) -> dict[str, Any]:
        """What :func:`output_from_spec` needs to open the same device in another process."""
        return {"kind": "device", "device": self.device, "blocksize": self.blocksize,
                "latency": self.requested_latency}

    def start(self, fill: FillFunction, sample_rate: int, channels: int) -> None:
        """Open a float32 stream and start calling ``fill`` from the audio thread."""
        self._fill = fill
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self._open()
        self._running = True
        self._watchdog = threading.Thread(target=self._watch, name="adaptive-music-device-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """Stop and close the stream (immediately: what is queued in the host is dropped)."""
        self._running = False
        self._wake.set()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join()
        self._close()

    def _open(self) -> None:
        sd = _sounddevice()
        stream = sd.OutputStream(
            device=self.device, samplerate=self.sample_rate, channels=self.channels, dtype="float32",
            blocksize=self.blocksize, latency=self.requested_latency, callback=self._callback,
            finished_callback=self._wake.set,
        )
        self._realtime_tried = False  # a new stream may call back on a new audio thread
        try:
            stream.start()
        except Exception:
            stream.close()
            raise
        self.latency = float(stream.latency)
        self._stream = stream

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # a lost device may refuse to close cleanly
                log.debug("closing the audio stream failed: %s", exc)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # The audio thread: no logging, no allocation beyond what sounddevice hands us.
        if not self._realtime_tried:
            self._realtime_tried = True
            _ask_for_realtime()
        if status.output_underflow:
            self.output_underflows += 1
        self._callbacks += 1
        dac = time_info.outputBufferDacTime
        now = time.monotonic()
        # PortAudio's stream clock differs from the monotonic one; carry the offset over.
        heard_at = now + (dac - time_info.currentTime) if dac > 0 else now + self.latency
        self._fill(outdata, heard_at)  # type: ignore[misc]

    def _watch(self) -> None:
        seen = self._callbacks
        last_progress = time.monotonic()
        while self._running:
            self._wake.wait(0.25)
            self._wake.clear()
            if not self._running:
                return
            now = time.monotonic()
            if self._callbacks != seen:
                seen, last_progress = self._callbacks, now
            stream = self._stream
            if stream is None or not stream.active:
                self._restart("its stream ended")
            elif now - last_progress > self._STALL:
                self._restart(f"no audio asked for in {now - last_progress:.1f} s")
            else:
                continue
            seen, last_progress = self._callbacks, time.monotonic()

    def _restart(self, why: str) -> None:
        log.warning("audio device %s stopped playing (%s); restarting the stream",
                    self.device if self.device is not None else "(default)", why)
        self._close()
        attempt = 0
        while self._running:
            attempt += 1
            try:
                self._open()
            except Exception as exc:
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("reopening audio device failed (attempt %d): %s; retrying", attempt, exc)
                self._wake.wait(self._RESTART_PAUSE)
                continue
            self.restarts += 1
            log.warning("audio stream restarted on attempt %d", attempt)
            return


class ClockedFileSink:
    """A stand-in for a sound device: takes audio in real time and writes it to a WAV file.

    A thread paced by :func:`time.monotonic` asks for ``blocksize`` frames
    every ``blocksize / sample_rate`` seconds, ``latency`` seconds before
    they are due, as a device's callback would. Buffers it takes later than
    they are due count as ``output_underflows``.

    Parameters
    ----------
    path
        WAV file to write; it appears once the sink stops. None writes nothing.
    subtype
        WAV sample format: ``float32`` (exact), ``pcm16``, ``pcm24`` or ``pcm32``.
    blocksize
        Frames per buffer.
    latency
        Seconds between asking for a buffer and the time it counts as heard.
    """

    def __init__(self, path: str | Path | None = None, *, subtype: str = "float32", blocksize: int = 480,
                 latency: float = 0.02) -> None:
        from ..audio.wav import SUBTYPES

        _check_latency(latency)
        if subtype not in SUBTYPES:
            raise ValueError(f"subtype must be one of {', '.join(SUBTYPES)}; got {subtype!r}")
        if blocksize < 1:
            raise ValueError(f"blocksize must be positive, got {blocksize!r}")
        self.path = Path(path) if path is not None else None
        self.subtype = subtype
        self.blocksize = int(blocksize)
        self.latency = float(latency)
        self.sample_rate = 0
        self.channels = 0
        self.output_underflows = 0
        self.restarts = 0  # a file is never lost
        self.frames_written = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._wav: Any = None

    def spec(self) -> dict[str, Any]:
        """What :func:`output_from_spec` needs to make the same sink in another process."""
        return {"kind": "file", "path": None if self.path is None else str(self.path), "subtype": self.subtype,
                "blocksize": self.blocksize, "latency": self.latency}

    def start(self, fill: FillFunction, sample_rate: int, channels: int) -> None:
        """Open the WAV file and start taking buffers in real time."""
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        if self.path is not None:
            from ..audio.wav import WavWriter

            self._wav = WavWriter(self.path, self.sample_rate, self.channels, self.subtype)
        self._running = True
        self._thread = threading.Thread(target=self._run, args=(fill,), name="adaptive-music-file-sink",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking buffers and finish the WAV file."""
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    def _run(self, fill: FillFunction) -> None:
        buf = np.zeros((self.blocksize, self.channels), np.float32)
        period = self.blocksize / self.sample_rate
        first_due = time.monotonic() + self.latency
        k = 0
        while self._running:
            due = first_due + k * period
            wait = due - self.latency - time.monotonic()
            if wait > 0 and self._wake.wait(wait):
                break
            if time.monotonic() > due:
                self.output_underflows += 1
            fill(buf, due)
            if self._wav is not None:
                try:
                    self._wav.write(buf)
                except (OSError, ValueError) as exc:  # disk full, the 4 GiB WAV limit
                    log.error("recording to %s stopped: %s; playback goes on", self.path, exc)
                    self._wav.close()
                    self._wav = None
            self.frames_written += len(buf)
            k += 1


# Real-time priority asked for the audio thread: low, like the sound server's own (PulseAudio's default is 5).
_REALTIME_PRIORITY = 5


def _ask_for_realtime() -> None:
    """Move the calling thread (the audio thread) to real-time FIFO scheduling, as audio
    applications do, so that busy threads of ordinary priority cannot delay a buffer; without
    the privilege (CAP_SYS_NICE or an rtprio limit) it keeps its priority, silently."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(_REALTIME_PRIORITY))
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass


def output_spec(output: object) -> dict[str, Any] | None:
    """The spec of a :class:`DeviceOutput` or :class:`ClockedFileSink`; None for any other output,
    which can only play in the process that made it."""
    return output.spec() if isinstance(output, (DeviceOutput, ClockedFileSink)) else None


def output_from_spec(spec: dict[str, Any]) -> DeviceOutput | ClockedFileSink:
    """The output a :meth:`DeviceOutput.spec` or :meth:`ClockedFileSink.spec` describes."""
    options = {k: v for k, v in spec.items() if k != "kind"}
    return (DeviceOutput if spec["kind"] == "device" else ClockedFileSink)(**options)


def _check_latency(latency: float) -> None:
    if not (isinstance(latency, (int, float)) and 0 < latency <= 2):
        raise ValueError(f"latency must be between 0 and 2 seconds, got {latency!r}")
