"""The generator process: ``python -m adaptive_music.playback.worker``, started by
:class:`~adaptive_music.playback.feed.ProcessFeed`; not for running by hand.

It reads its setup and then control calls from stdin, writes applied controls,
beat markers and mood transitions to stdout, and generates into the shared ring
until stdin closes.
"""

from __future__ import annotations

import dataclasses
import logging
import mmap
import os
import sys
import threading
import traceback
from typing import Any

from ..config import StreamConfig
from .feed import (CONTROL_METHODS, Coalescer, GeneratorSpec, encode_transition, generator_source, read_frame,
                   write_frame)
from .player import Producer
from .ringbuffer import RingBuffer


def main() -> int:
    """The child's side: read the setup, then generate into the ring until stdin closes."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only
    setup = read_frame(stdin)
    if setup is None:
        return 1
    out_lock = threading.Lock()

    def send(message: Any) -> None:
        with out_lock:
            write_frame(stdout, message)

    try:
        fd = os.open(setup["ring"], os.O_RDWR)
        try:
            shared = mmap.mmap(fd, RingBuffer.nbytes(setup["capacity"], setup["channels"]))
        finally:
            os.close(fd)
        ring = RingBuffer(setup["capacity"], setup["channels"], buffer=shared)
        config = StreamConfig(**setup["config"]) if setup["config"] else None
        spec = GeneratorSpec(setup["backend"], setup["mood"], setup["seed"], config, setup["backend_options"])
        calls = Coalescer()
        source = generator_source(
            spec.build(), calls,
            on_applied=lambda c: send(["applied", c.position, c.method, list(c.args)]),
            on_markers=lambda ms: send(["markers", [dataclasses.asdict(m) for m in ms]]),
            on_transitions=lambda ts: send(["transitions", [encode_transition(t) for t in ts]]))
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
    try:
        producer.prefill(stop)
        producer.run(stop)
    except Exception:
        send(["error", traceback.format_exc()])
        return 1
    stop.wait()  # stay until the parent is done with the ring
    return 0


if __name__ == "__main__":
    sys.exit(main())
