"""The playback process: ``python -m adaptive_music.playback.worker``, started by
:class:`~adaptive_music.playback.feed.ProcessFeed`; not for running by hand.

It reads its setup and then control calls from stdin; it generates into the
shared ring on one thread and plays the ring through the output (whose
callback runs on the audio thread), publishing the playhead in the shared
player state. It writes applied controls, beat markers, mood transitions and
log records to stdout, and stops when stdin closes.
"""

from __future__ import annotations

import dataclasses
import logging
import mmap
import os
import sys
import threading
import traceback
from typing import Any, Callable

from ..config import StreamConfig
from .device import output_from_spec
from .feed import (CONTROL_METHODS, Coalescer, GeneratorSpec, encode_transition, generator_source, read_frame,
                   shared_layout, write_frame)
from .player import Player, PlayerState, Producer
from .realtime import REALTIME_PRIORITY, ask_for_realtime
from .ringbuffer import RingBuffer

# The generator thread and the audio callback share this process's GIL. A
# thread that wants the GIL waits up to this long for the holder to let go
# (Python's default is 5 ms, a quarter of a 20 ms device buffer).
_SWITCH_INTERVAL = 0.0005


# The procedural generator (about a tenth of a core here, and idle once the ring is full) runs
# just below the audio thread's real-time priority: at ordinary priority, preempted by other
# work while it held the GIL, it made the audio thread wait for the GIL too. Measured side by side,
# 4 min each on this loaded 2-core VM: ring underruns 1413 -> 73, device underflows 148 -> 60,
# silence in the capture 8.7 s -> 0.7 s. Backends that may need whole cores (MusicGen on a
# CPU) keep ordinary priority, so that they cannot take the game's CPU away.
_GENERATOR_PRIORITY = REALTIME_PRIORITY - 1

# Nice value asked for this process's threads (the generator above all): the game's ordinary
# threads must not keep the generator from staying ahead of the audio thread.
_NICE = -10


def _ask_for_priority() -> None:
    """Raise the priority of the threads started from here on; without the privilege
    (CAP_SYS_NICE, or an RLIMIT_NICE that allows it) they keep theirs, silently."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, _NICE)  # on Linux: this thread, inherited by new ones
    except (AttributeError, OSError):
        pass


class _ParentLog(logging.Handler):
    """Sends log records to the parent, which logs them under the same logger name."""

    def __init__(self, send: Callable[[Any], None]) -> None:
        super().__init__(logging.INFO)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(["log", record.levelno, record.name, self.format(record)])
        except Exception:
            self.handleError(record)


def main() -> int:
    """The child's side: read the setup, then generate and play until stdin closes."""
    sys.setswitchinterval(_SWITCH_INTERVAL)
    _ask_for_priority()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only
    setup = read_frame(stdin)
    if setup is None:
        return 1
    out_lock = threading.Lock()

    def send(message: Any) -> None:
        with out_lock:
            write_frame(stdout, message)

    logging.basicConfig(level=logging.INFO, handlers=[_ParentLog(send)])
    try:
        ring_bytes, state_bytes = shared_layout(setup["capacity"], setup["channels"])
        fd = os.open(setup["ring"], os.O_RDWR)
        try:
            shared = memoryview(mmap.mmap(fd, ring_bytes + state_bytes))
        finally:
            os.close(fd)
        ring = RingBuffer(setup["capacity"], setup["channels"], buffer=shared[:ring_bytes])
        player = Player(ring, setup["sample_rate"], output_from_spec(setup["output"]),
                        state=PlayerState(shared[ring_bytes:]))
        config = StreamConfig(**setup["config"]) if setup["config"] else None
        spec = GeneratorSpec(setup["backend"], setup["mood"], setup["seed"], config, setup["backend_options"])
        calls = Coalescer()
        source = generator_source(
            spec.build(), calls,
            on_applied=lambda c: send(["applied", c.position, c.method, list(c.args)]),
            on_markers=lambda ms: send(["markers", [dataclasses.asdict(m) for m in ms]]),
            on_transitions=lambda ts: send(["transitions", [encode_transition(t) for t in ts]]),
            on_backend=lambda name, failure, renderer: send(["backend", name, failure, renderer]))
        producer = Producer(source, ring, setup["target_frames"], setup["limit_frames"])
    except Exception:
        send(["error", traceback.format_exc()])
        return 1
    stop = threading.Event()

    def read_controls() -> None:
        while True:
            try:
                msg = read_frame(stdin)
            except ValueError:
                msg = None
            if msg is None:  # the parent closed our input: stop
                stop.set()
                return
            if isinstance(msg, list) and len(msg) == 2 and msg[0] in CONTROL_METHODS:
                calls.put(msg[0], tuple(msg[1]))

    threading.Thread(target=read_controls, daemon=True).start()
    if setup["backend"] == "procedural":
        ask_for_realtime(_GENERATOR_PRIORITY)  # this thread runs the generator from here on
    try:
        producer.prefill(stop)
        player.start()
    except Exception:
        send(["error", traceback.format_exc()])
        return 1
    send(["started"])
    try:
        producer.run(stop)
    except Exception:
        send(["error", traceback.format_exc()])
    stop.wait()  # play on until the parent is done
    player.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
