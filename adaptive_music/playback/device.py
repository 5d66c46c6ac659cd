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

Underflows on Linux desktops
----------------------------
Most Linux desktops run PortAudio programs through ALSA's ``pulse`` plugin
(the ``pulse`` device, and ``default`` where PulseAudio or PipeWire runs).
There, one late buffer used to cost up to two seconds of silence. Measured
here (PortAudio 19.6.0, alsa-plugins 1.2.7.1, PulseAudio 16.1, null sink),
with a sine at ``latency=0.02`` and one callback made 80 ms late:

- PortAudio picks 240-frame periods; the plugin turns the ALSA buffer into a
  server stream with ``tlength`` = buffer, ``minreq`` = period and
  ``prebuf`` = buffer - period (``pactl``: buffer latency 25 ms).
- The plugin's ``handle_underrun`` is on by default (with any libpulse of
  0.99 or later): when the server reports the stream ran dry, the plugin's
  pointer callback returns ``-EPIPE``. PortAudio sees an xrun and recovers
  with ``snd_pcm_recover``/``snd_pcm_prepare`` (``ALSA lib pcm.c:
  (snd_pcm_recover) underrun occurred``), then primes the buffer with
  silence and restarts.
- The plugin's prepare **disconnects the server stream and makes a new
  one** (``pactl list sink-inputs`` shows a new sink-input index after each
  underflow). For that moment the sink has no stream, so it falls back to
  its longest latency (a null sink renders 2-s blocks; a sound card sink
  fills its 2-s timer-scheduled buffer) and has already rendered ahead when
  the new stream arrives, which waits behind it. The capture holds a
  2.03-s hole and the PortAudio callback stops for those 2 s. Only a
  client that holds the sink's latency down meanwhile (a ``parec`` with a
  5-ms latency, as the project's tests had) hides it: then the hole is the
  lateness, plus the priming.

So the default device and ``pulse`` now play through
:class:`~adaptive_music.playback.pulse.PulseStream`: one server stream for
the whole session, ``tlength`` = the latency, ``prebuf`` = ``minreq`` =
one period. An underflow stops the stream in the server until one period
arrives; nothing is reconnected or re-primed, so the hole is how long the
device went unfed plus at most one period (80 ms late at 20 ms latency:
65 ms; 30 ms late: 10-15 ms). The server's latency report moves the
clock by the hole, so the playhead and beat times stay right, and
:class:`~adaptive_music.playback.holes.HoleMeter` counts the holes
(``holes``, ``lost_seconds`` in ``status``). Recordings of a rewinding
sink showed up to ~130 frames missing after a hole; see below for why a
recording of such a sink cannot be taken at its word.

Where the remaining underflows come from, with the audio thread at
real-time priority: mostly the sound server. PulseAudio moves client audio
into the sink on its main thread, which runs at nice -11, not real-time;
on a loaded 2-core machine it was late by 30-90 ms every few seconds, and
the stream ran dry with our thread on time (``pa_simple_get_latency`` had
shown a full buffer). With that thread at real-time priority too (as
``scripts/pulse-test-sink.sh`` sets it where allowed), the same load left
0-1 holes in 20 s instead of 4-5. Next came the GIL: the generator
thread of the playback process, preempted while it held the GIL, kept the
audio thread waiting for it; the procedural generator now runs at
real-time priority just below the audio thread (see
:mod:`adaptive_music.playback.worker`).

What is left on an idle machine is the machine: over 10 minutes on the
2-vCPU VM, a thread above the audio thread's priority that only sleeps 1 ms
at a time woke up to 48 ms late, 166 ms late in all, against 165 ms lost on
the stream clock, and 12 of the 14 holes followed such a stall (0.06 would
by chance; ``bench/playback.py --probe``). No setting here gives a thread CPU that the
kernel or the hypervisor withholds.

What a buffer can do against such stalls is outlast them, so on PulseAudio
the buffer adapts (``max_latency``, :class:`~adaptive_music.playback.latency.AdaptiveLatency`):
it starts at the latency asked for, widens one step after each underflow and
narrows one step after two minutes without one, changed on the running
stream without a gap. With the flags libpulse's simple API uses (the server
adjusts the sink's latency to the stream's), ``tlength`` is shared between
the sink and the stream: what is buffered when a period is written, the
protection against a stall, measured about ``tlength / 2 + 5 ms`` (15 ms at
20 ms, 35 ms at 60 ms). The price is latency: a "now" mood change is heard
later by the same amount while the buffer is wide. Measured on the 2-vCPU VM
(``bench/playback.py``, RESULTS.md): on the idle VM, whose stalls are rare
(5 in 30 minutes) and long (up to 65 ms), the buffer had narrowed again
before each next stall and the silence was not reduced (165 ms in 30
minutes, against 140 ms with a fixed buffer the day before). Under a
game-like load, where stalls come in clusters, it cut the silence in 30
minutes from 665 ms to 233 ms, and to 10-60 ms a run (42 ms in the last
30-minute run) once a wide buffer stopped draining the ring: after a stall the
server asks for its whole buffer at once, more than the generator keeps
ahead (50 ms in ``play``) once the buffer is wider, so each write now waits
briefly for the generator (``ready``) instead of taking a ring underrun.

A sink that rewinds (PulseAudio's sinks do) makes a hole shorter: when the
stream has data again, the sink replaces the silence it had rendered ahead
with the music, which resumes where it stopped. The sink's monitor cannot
show that: it has already passed part of that silence to the recording, so
a recording shows silence the sink did not play and then the music later
than it stopped, as if music had been skipped. Six 60-ms stalls of the
playback process (``play``'s settings, three runs each): on a rewinding
null sink 111-182 ms of silence recorded and 53-154 ms "skipped", so 28-58
ms played; on one that does not rewind, 125-148 ms of silence and nothing
skipped. The test sink does not rewind, so that what it records is what it
played.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .holes import HoleMeter
from .latency import AdaptiveLatency
from .pulse import PulseStream, PulseUnavailable, server_present
from .realtime import ask_for_realtime

log = logging.getLogger(__name__)

FillFunction = Callable[[np.ndarray, float], None]
"""``fill(out, heard_at)``: fill ``out`` (frames, channels) whose first frame is heard at ``heard_at``."""


# Device names that mean "the PulseAudio server" on a desktop (ALSA's default routes there too).
_PULSE_DEVICES = (None, "pulse", "default")


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

    On a machine with a PulseAudio (or PipeWire) server, the default device
    and the device named ``pulse`` play through a :class:`~adaptive_music.playback.pulse.PulseStream`
    straight to the server; everything else, and those too when no server
    answers (logged, with the reason), through PortAudio. :attr:`host` says which.

    Parameters
    ----------
    device
        Device index or (part of a) name, as ``sounddevice`` takes it; None for the default.
    blocksize
        Frames per callback; 0 lets the host choose (PortAudio), or a quarter of the latency (PulseAudio).
    latency
        Requested output latency in seconds: the device buffer. An underflow costs the time the
        device went unfed beyond it, plus at most one period on PulseAudio.
    max_latency
        On PulseAudio, how far the buffer may widen after underflows (see
        :class:`~adaptive_music.playback.latency.AdaptiveLatency`); None keeps ``latency``.
    """

    _RESTART_PAUSE = 1.0  # seconds between attempts to reopen a lost device
    # Seconds without a callback after which a running stream counts as lost;
    # PulseAudio can pause a fresh stream for up to about 2 s.
    _STALL = 3.0
    # Smallest jump of the stream clock that counts as a hole: above the jitter of each
    # host's timing (measured here: PulseAudio's latency report within 0.2 ms,
    # PortAudio's DAC time through the ALSA pulse plugin within 3 ms).
    _HOLE_TOLERANCE = {"pulseaudio": 0.002, "portaudio": 0.005}

    def __init__(self, device: int | str | None = None, *, blocksize: int = 0, latency: float = 0.02,
                 max_latency: float | None = None) -> None:
        _check_latency(latency)
        if max_latency is not None:
            _check_latency(max_latency)
        pulse = device in _PULSE_DEVICES and server_present()
        self.device = device if pulse else resolve_device(device)
        self.host = "pulseaudio" if pulse else "portaudio"
        """``pulseaudio`` (libpulse, straight to the server) or ``portaudio``."""
        self.sample_rate = 0
        self.channels = 0
        self.blocksize = int(blocksize)
        self.requested_latency = float(latency)
        self.max_latency = max(self.requested_latency, float(max_latency or latency))
        self.latency = float(latency)
        """Output latency the open stream reports (on PulseAudio: asks for now), in seconds."""
        self._adaptive = AdaptiveLatency(self.requested_latency, self.max_latency)
        self._logged = self._adaptive.now  # the buffer size last logged
        self.output_underflows = 0
        """Times the device ran out of audio: PortAudio's ``output_underflow`` flags, or on
        PulseAudio the holes its clock shows."""
        self.restarts = 0
        self._holes = HoleMeter(1, 0.0)
        self._fill: FillFunction | None = None
        self._ready: Callable[[int], bool] | None = None
        self._stream: Any = None
        self._callbacks = 0
        self._played = False  # a stream has been open: a failure to reopen is the device's, for now
        self._realtime_tried = False
        self._running = False
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Event()

    @property
    def holes(self) -> int:
        """Stretches of silence the stream let through, measured on the stream's clock."""
        return self._holes.holes

    @property
    def lost_seconds(self) -> float:
        """Total length of those holes: how much later the music is heard than it would have been."""
        return self._holes.lost_seconds

    @property
    def longest_hole(self) -> float:
        return self._holes.longest

    def spec(self) -> dict[str, Any]:
        """What :func:`output_from_spec` needs to open the same device in another process."""
        return {"kind": "device", "device": self.device, "blocksize": self.blocksize,
                "latency": self.requested_latency, "max_latency": self.max_latency}

    def start(self, fill: FillFunction, sample_rate: int, channels: int,
              ready: Callable[[int], bool] | None = None) -> None:
        """Open a float32 stream and start calling ``fill`` from the audio thread. On PulseAudio,
        a write waits for ``ready(frames)`` while the device still holds audio (see
        :class:`~adaptive_music.playback.pulse.PulseStream`); PortAudio's callback cannot wait."""
        self._fill = fill
        self._ready = ready
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self._holes = HoleMeter(self.sample_rate, self._HOLE_TOLERANCE[self.host])
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
        self._holes.restart()
        if self.host == "pulseaudio":
            period = self.blocksize or max(64, round(self.requested_latency * self.sample_rate / 4))
            stream = PulseStream(self._deliver, self.sample_rate, self.channels, self._adaptive.now, period,
                                 finished=self._wake.set, ready=self._ready)
            try:
                stream.start()
            except PulseUnavailable as exc:
                if self._played:
                    raise  # it played before: the server is away for now; the watchdog retries
                log.warning("playing through PortAudio instead of straight to PulseAudio: %s", exc)
                self.host = "portaudio"
                self.device = resolve_device(self.device)
                self._holes = HoleMeter(self.sample_rate, self._HOLE_TOLERANCE[self.host])
                self._open()
                return
            self.latency = stream.latency
            self._stream = stream
            self._played = True
            return
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
        # PortAudio's audio thread: no logging, no allocation beyond what sounddevice hands us.
        if not self._realtime_tried:
            self._realtime_tried = True
            ask_for_realtime()
        if status.output_underflow:
            self.output_underflows += 1
        dac = time_info.outputBufferDacTime
        now = time.monotonic()
        # PortAudio's stream clock differs from the monotonic one; carry the offset over.
        self._deliver(outdata, now + (dac - time_info.currentTime) if dac > 0 else now + self.latency)

    def _deliver(self, out: np.ndarray, heard_at: float) -> None:
        """The audio thread, from either host: measure the clock, then fill."""
        self._callbacks += 1
        holes = self._holes
        before = holes.holes
        holes.observe(heard_at, len(out))
        if self.host == "pulseaudio":
            now, asked = time.monotonic(), self._adaptive.now
            if holes.holes != before:
                self.output_underflows += 1
                latency = self._adaptive.underflow(now)
            else:
                latency = self._adaptive.tick(now)
            stream = self._stream
            if stream is not None:  # a stream reopened meanwhile was opened at the new size
                if latency != asked:
                    stream.request_latency(latency)
                self.latency = stream.latency
        self._fill(out, heard_at)  # type: ignore[misc]

    def _watch(self) -> None:
        seen = self._callbacks
        last_progress = time.monotonic()
        while self._running:
            self._wake.wait(0.25)
            self._wake.clear()
            if not self._running:
                return
            asked = self._adaptive.now
            if asked != self._logged:  # logged here: the audio thread does not log
                wider = asked > self._logged
                log.log(logging.WARNING if wider else logging.INFO, "device buffer %s to %.0f ms (%d underflows so far)",
                        "widening" if wider else "narrowed", asked * 1000, self.output_underflows)
                self._logged = asked
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
        self.host = "file"
        self.holes = 0  # a file takes every buffer: late ones count as output_underflows, but leave no hole
        self.lost_seconds = 0.0
        self.longest_hole = 0.0
        self.frames_written = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._wav: Any = None

    def spec(self) -> dict[str, Any]:
        """What :func:`output_from_spec` needs to make the same sink in another process."""
        return {"kind": "file", "path": None if self.path is None else str(self.path), "subtype": self.subtype,
                "blocksize": self.blocksize, "latency": self.latency}

    def start(self, fill: FillFunction, sample_rate: int, channels: int,
              ready: Callable[[int], bool] | None = None) -> None:
        """Open the WAV file and start taking buffers in real time (as a sound card's callback,
        without waiting for ``ready``)."""
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
