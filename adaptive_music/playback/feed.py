"""Where generation and playback run: on threads of this process, or in a child process.

Thread or process? Measured with ``bench/playback.py`` (2 cores, PulseAudio
null sink, 20 ms device latency, procedural backend, 30 s runs). Idle, every
arrangement gives 0 underruns. With another thread of the game's process
doing pure-Python busy work:

- generator on a thread of the game's process: 109 ring underruns in 30 s.
  Each time the generator gives up the GIL (every sleep, every large numpy
  call) it waits a whole switch interval (5 ms) to get it back from the busy
  thread, and a block makes many such calls;
- generator in a child process, audio callback still in the game's process:
  0 ring underruns, but 11 to 21 ``output_underflow`` flags in 30 s: the
  callback itself waits for the game's GIL once per buffer;
- generator and output both in a child process (:class:`ProcessFeed`, the
  default): 0 underruns and 0 underflows in 30 s. Over 10 minutes, idle
  or busy, the few underflows left (5 in 10 minutes) came from the audio
  thread being scheduled late, and went with real-time scheduling for it
  (:class:`~adaptive_music.playback.device.DeviceOutput`).

So the child runs the generator on one thread and the output's callback on
the audio thread, with a short switch interval so that the callback never
waits long for its own process's GIL (see
:mod:`~adaptive_music.playback.worker`). The game's process keeps only the
control calls, the beat callbacks and a view of the playhead
(:class:`~adaptive_music.playback.player.Playback`) read from shared memory.
:class:`ThreadFeed` remains for backends passed as objects and outputs
other than a device or a clocked file, which cannot be rebuilt in another
process.

The child is started as ``python -m adaptive_music.playback.worker`` rather
than through :mod:`multiprocessing`, so that it never re-imports the game's
main script. It reads its setup and then control calls from stdin and
writes applied controls, beat markers, mood transitions and log records to
stdout, as length-prefixed msgpack frames; the ring and the player state
live in a file in ``/dev/shm`` that both map.
"""

from __future__ import annotations

import dataclasses
import logging
import mmap
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, BinaryIO, Callable

import msgpack
import numpy as np

from ..config import StreamConfig
from ..engine.stream import StreamingGenerator
from ..engine.timeline import Transition
from ..models import load_backend
from ..models.base import Marker, Model, Mood
from .player import Output, Playback, Player, PlayerState, Producer
from .ringbuffer import RingBuffer

log = logging.getLogger(__name__)

CONTROL_METHODS = ("set_mood", "set_intensity", "stinger")
_MAX_PENDING_STINGERS = 8
_MAX_FRAME = 1 << 20  # bytes; control, marker and transition frames are far smaller


@dataclasses.dataclass(frozen=True)
class Control:
    """A control call as the generator received it: before the block at output sample ``position``."""

    position: int
    method: str
    """``set_mood``, ``set_intensity`` or ``stinger``."""
    args: tuple


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """What it takes to build the same generator anywhere."""

    backend: str | Model
    mood: str
    seed: int = 0
    config: StreamConfig | None = None
    backend_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def build(self) -> StreamingGenerator:
        model = load_backend(self.backend, **self.backend_options) if isinstance(self.backend, str) else self.backend
        # A neural backend that fails mid-stream hands over to the procedural one without a gap.
        fallback = None if model.name == "procedural" else load_backend("procedural")
        return StreamingGenerator(model, self.mood, config=self.config, seed=self.seed, fallback=fallback)


class Coalescer:
    """Control calls waiting for the generator; the latest call of each method wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held only to swap small containers
        self._calls: dict[str, tuple] = {}
        self._stingers: list[tuple] = []

    def put(self, method: str, args: tuple) -> None:
        with self._lock:
            if method == "stinger":
                if len(self._stingers) < _MAX_PENDING_STINGERS:  # more would only pile up
                    self._stingers.append(args)
                return
            self._calls.pop(method, None)  # re-insert: calls keep the order of their latest issue
            self._calls[method] = args

    def take(self) -> list[tuple[str, tuple]]:
        with self._lock:
            calls = list(self._calls.items()) + [("stinger", a) for a in self._stingers]
            self._calls, self._stingers = {}, []
        return calls


def generator_source(gen: StreamingGenerator, calls: Coalescer, on_applied: Callable[[Control], None],
                     on_markers: Callable[[list[Marker]], None],
                     on_transitions: Callable[[list[Transition]], None],
                     on_backend: Callable[[str, str | None, str | None], None]) -> Callable[[], np.ndarray]:
    """A block source: applies waiting control calls, then pulls the next block, its beats
    and the mood transitions it starts or ends. ``on_backend(name, failure, renderer)`` hears of
    the backend at the start, whenever the generator falls back to another, and whenever the
    backend's own renderer fallback changes (a procedural model's ``renderer_fallback``: no
    SoundFont, or keys the font has no sample at), as this model, not the caller's, meets it."""
    playing: list = []

    def next_block() -> np.ndarray:
        for method, args in calls.take():
            try:
                getattr(gen, method)(*args)
            except ValueError as exc:  # checked when queued: only a backend quirk gets here
                log.error("%s%r was rejected: %s", method, args, exc)
                continue
            on_applied(Control(gen.position, method, args))
        block = gen.next_block()
        markers = gen.take_markers()
        if markers:
            on_markers(markers)
        transitions = gen.take_transitions()
        if transitions:
            on_transitions(transitions)
        now = [gen.backend, gen.failure, getattr(gen.model, "renderer_fallback", None)]
        if playing != now:
            playing[:] = now
            on_backend(*now)
        return block

    return next_block


def render_controls(generator: StreamingGenerator, controls: list[Control], frames: int) -> np.ndarray:
    """The first ``frames`` output samples of ``generator`` (fresh: same backend, mood, seed
    and config as a live session) given the same ``controls``: what that session played."""
    out = []
    have = 0
    todo = sorted(controls, key=lambda c: c.position)
    i = 0
    while have < frames:
        while i < len(todo) and todo[i].position <= generator.position:
            getattr(generator, todo[i].method)(*todo[i].args)
            i += 1
        block = generator.next_block()
        out.append(block)
        have += len(block)
    return np.concatenate(out)[:frames]


# -- in this process --------------------------------------------------------------


class ThreadFeed:
    """Runs the generator on a thread of this process and plays through ``output`` here."""

    def __init__(self, spec: GeneratorSpec, output: Output, capacity: int, sample_rate: int, channels: int,
                 target_frames: int, limit_frames: int | None, on_applied: Callable[[Control], None],
                 on_markers: Callable[[list[Marker]], None],
                 on_transitions: Callable[[list[Transition]], None]) -> None:
        self.ring = RingBuffer(capacity, channels)
        self.player = Player(self.ring, sample_rate, output)
        self.playback = self.player.playback
        self._calls = Coalescer()
        self.backend: tuple[str, str | None, str | None] | None = None
        """(backend name, why it failed over, its renderer's fallback) as the generator last reported them."""
        source = generator_source(spec.build(), self._calls, on_applied, on_markers, on_transitions,
                                  self._set_backend)
        self._producer = Producer(source, self.ring, target_frames, limit_frames)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="adaptive-music-generator", daemon=True)
        self._started = False

    @property
    def error(self) -> BaseException | None:
        return self._producer.error

    def send(self, method: str, args: tuple) -> None:
        self._calls.put(method, args)

    def wake(self) -> None:
        """Have the generator refill the ring now rather than at its next poll (an output took frames)."""
        self._producer.wake.set()

    def _set_backend(self, name: str, failure: str | None, renderer: str | None) -> None:
        self.backend = (name, failure, renderer)

    def start(self) -> None:
        """Fill the ring to its target, keep it filled from a thread, and start the output."""
        self._producer.prefill(self._stop)
        self._thread.start()
        self.player.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self.player.stop()
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            self._producer.run(self._stop)
        except Exception:
            log.exception("the music generator failed; playback ends here")


# -- in a child process -----------------------------------------------------------


def write_frame(stream: BinaryIO, message: Any) -> None:
    data = msgpack.packb(message, use_bin_type=True)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    """The next message, or None at end of stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("<I", head)
    if size > _MAX_FRAME:
        raise ValueError(f"message of {size} bytes is over the {_MAX_FRAME}-byte limit")
    data = stream.read(size)
    if len(data) < size:
        return None
    return msgpack.unpackb(data, raw=False)


def encode_transition(t: Transition) -> dict:
    """A transition as plain msgpack types (its mood as text and intensity)."""
    return {"phase": t.phase, "text": t.mood.text, "intensity": t.mood.intensity, "sample": t.sample}


def decode_transition(fields: dict) -> Transition:
    return Transition(fields["phase"], Mood(fields["text"], fields["intensity"]), fields["sample"])


def shared_layout(capacity: int, channels: int) -> tuple[int, int]:
    """Byte sizes of the ring and of the player state that follows it in the shared file (the ring's
    size rounded up to a cache line, so that the state's 64-bit slots are aligned)."""
    return -(-RingBuffer.nbytes(capacity, channels) // 64) * 64, PlayerState.NBYTES


def _shared_file(nbytes: int) -> tuple[str, mmap.mmap]:
    """A zeroed file of ``nbytes`` in shared memory (RAM-backed where /dev/shm exists), mapped."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="adaptive-music-ring-", dir=folder)
    try:
        os.ftruncate(fd, nbytes)
        return path, mmap.mmap(fd, nbytes)
    finally:
        os.close(fd)


class ProcessFeed:
    """Runs the generator and the output in a child process; this process watches and steers
    them through a ring and a player state in shared memory."""

    _START_TIMEOUT = 120.0  # seconds for the child to load its backend, fill the ring and open the output

    def __init__(self, spec: GeneratorSpec, output: dict[str, Any], capacity: int, sample_rate: int,
                 channels: int, target_frames: int, limit_frames: int | None,
                 on_applied: Callable[[Control], None], on_markers: Callable[[list[Marker]], None],
                 on_transitions: Callable[[list[Transition]], None]) -> None:
        if not isinstance(spec.backend, str):
            raise TypeError("a generator process needs the backend by name; use a thread for a model object")
        ring_bytes, state_bytes = shared_layout(capacity, channels)
        self._path, self._map = _shared_file(ring_bytes + state_bytes)
        view = memoryview(self._map)
        self.ring = RingBuffer(capacity, channels, buffer=view[:ring_bytes])
        self.playback = Playback(self.ring, PlayerState(view[ring_bytes:]), sample_rate)
        self._setup = {
            "ring": self._path, "capacity": capacity, "sample_rate": sample_rate, "channels": channels,
            "target_frames": target_frames, "limit_frames": limit_frames, "output": output,
            "backend": spec.backend, "backend_options": spec.backend_options, "mood": spec.mood,
            "seed": spec.seed, "config": dataclasses.asdict(spec.config) if spec.config else None,
        }
        self._on_applied, self._on_markers, self._on_transitions = on_applied, on_markers, on_transitions
        self._early = Coalescer()  # calls made before the child runs
        self._proc: subprocess.Popen | None = None
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._started = threading.Event()
        self._stopping = False
        self.error: BaseException | None = None
        self.backend: tuple[str, str | None, str | None] | None = None
        """(backend name, why it failed over, its renderer's fallback) as the generator last reported them."""

    def send(self, method: str, args: tuple) -> None:
        """Pass a control call to the child; blocks only if the child stopped reading."""
        with self._send_lock:
            if self._proc is None:
                self._early.put(method, args)
                return
            try:
                write_frame(self._proc.stdin, [method, list(args)])
            except (BrokenPipeError, ValueError):  # the child has gone; the reader reports why
                pass

    def start(self) -> None:
        """Start the child and wait until it has filled the ring and opened the output."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "adaptive_music.playback.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": _package_root()})
        with self._send_lock:
            write_frame(proc.stdin, self._setup)
            for method, args in self._early.take():
                write_frame(proc.stdin, [method, list(args)])
            self._proc = proc
        self._reader = threading.Thread(target=self._read, name="adaptive-music-generator-reader", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self._START_TIMEOUT
        while not self._started.wait(0.005):
            if self._proc.poll() is not None or self.error is not None:
                self._reader.join(1.0)
                raise RuntimeError(f"the generator process failed to start: {self.error or 'it exited'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the generator process did not start in time")
        self._unlink()  # both sides have it mapped: the memory lives until both let go

    def stop(self) -> None:
        """End the child (it closes the output and stops at end of input), and free the ring."""
        self._stopping = True
        proc = self._proc
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join()
        self._unlink()

    def _unlink(self) -> None:
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    def _read(self) -> None:
        stdout = self._proc.stdout
        while True:
            try:
                msg = read_frame(stdout)
            except ValueError as exc:
                msg, self.error = None, RuntimeError(f"bad message from the generator process: {exc}")
            if msg is None:
                break
            kind = msg[0]
            if kind == "markers":
                self._on_markers([Marker(**m) for m in msg[1]])
            elif kind == "transitions":
                self._on_transitions([decode_transition(t) for t in msg[1]])
            elif kind == "applied":
                self._on_applied(Control(msg[1], msg[2], tuple(msg[3])))
            elif kind == "log":
                logging.getLogger(msg[2]).log(msg[1], "%s", msg[3])
            elif kind == "backend":
                self.backend = (msg[1], msg[2], msg[3])
            elif kind == "started":
                self._started.set()
            elif kind == "error":
                self.error = RuntimeError(msg[1])
                log.error("the music generator failed; playback ends here:\n%s", msg[1])
        if not self._stopping and not self.ring.closed:
            self.error = self.error or RuntimeError(f"the generator process exited ({self._proc.wait()})")
            log.error("%s; playback ends here", self.error)
            self.ring.close()
            self.playback.state.set_done()  # nothing plays any more


def _package_root() -> str:
    """PYTHONPATH for the child: where this package lives, then what the parent had."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rest = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")
