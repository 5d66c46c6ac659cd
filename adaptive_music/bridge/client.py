"""A Python client of the bridge, for scripting, tests and tools.

Requests go over one DEALER socket and are matched to replies by ``id``,
so a lost or late reply never wedges the client. Events come from a SUB
socket per subscription. A Client and each subscription belong to the
thread that made them (ZeroMQ sockets must not be shared between threads);
:meth:`Client.listen` runs its own socket on its own thread.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from typing import Any, AsyncIterator, Callable, Iterator

import numpy as np
import zmq
import zmq.asyncio

from . import protocol as p
from .keys import ClientKeys
from .limits import Limits

log = logging.getLogger(__name__)

_LIMITS = Limits()


@dataclasses.dataclass(frozen=True)
class Event:
    """One message from the events socket: its topic and its fields."""

    topic: str
    data: dict


class Client:
    """Sends requests to a bridge server and subscribes to its events.

    >>> with Client() as music:
    ...     music.set_mood("tense stealth", quantize="bar", ramp=2)
    ...     music.event("boss_phase_2")
    ...     print(music.status()["intensity"])

    Failed requests raise :class:`BridgeError`; unanswered ones raise
    TimeoutError after ``timeout`` seconds.
    """

    def __init__(
        self,
        commands: str = p.DEFAULT_COMMANDS,
        events: str = p.DEFAULT_EVENTS,
        *,
        timeout: float = 2.0,
        curve: ClientKeys | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.commands = commands
        self.events = events
        self.timeout = timeout
        self.curve = curve
        self._context = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._dealer = self._context.socket(zmq.DEALER)
        self._dealer.linger = 0
        if curve is not None:
            curve.apply(self._dealer)
        self._dealer.connect(commands)

    def close(self) -> None:
        self._dealer.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Requests ------------------------------------------------------------

    def request(self, type: str, *, timeout: float | None = None, **fields: Any) -> dict:
        """Send one request and return its reply (a dict with ``ok: True``)."""
        id = next(self._ids)
        message = {"v": p.VERSION, "id": id, "type": type}
        message.update((k, v) for k, v in fields.items() if v is not None)
        try:
            self._dealer.send(p.pack(message), zmq.NOBLOCK)
        except zmq.Again:
            raise TimeoutError(f"cannot queue a request to {self.commands}: the server is not reading") from None
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._dealer.poll(left * 1000.0, zmq.POLLIN):
                raise TimeoutError(f"no reply to {type!r} from {self.commands} within {timeout:g} s")
            reply = p.unpack(self._dealer.recv(), _LIMITS)
            if not isinstance(reply, dict) or reply.get("id") != id:
                continue  # a late reply to a request that timed out
            if not reply.get("ok"):
                error = reply.get("error") or {}
                raise p.BridgeError(str(error.get("code")), str(error.get("message")), id)
            return reply

    def hello(self) -> dict:
        return self.request("hello")

    def status(self) -> dict:
        return self.request("status")

    def set_mood(self, text: str, quantize: str | None = None, ramp: float | None = None) -> dict:
        """Change the mood; ``quantize`` is now, beat or bar, ``ramp`` a crossfade in seconds."""
        transition = {k: v for k, v in (("quantize", quantize), ("ramp", ramp)) if v is not None}
        return self.request("set_mood", text=text, transition=transition or None)

    def event(self, name: str, params: dict | None = None) -> dict:
        """Send a game event; the server's mood map says what it does."""
        return self.request("event", name=name, params=params)

    def set_param(self, name: str, value: float) -> dict:
        return self.request("set_param", name=name, value=value)

    def set_intensity(self, value: float) -> dict:
        return self.set_param("intensity", value)

    def stinger(self, name: str) -> dict:
        return self.request("stinger", name=name)

    def pause(self) -> dict:
        return self.request("pause")

    def resume(self) -> dict:
        return self.request("resume")

    def audio_open(self, sample_rate: int, channels: int = 2) -> dict:
        """Start pulling the music at the engine's rate (protocol 1.1, ``serve --output engine``)."""
        return self.request("audio_open", sample_rate=sample_rate, channels=channels)

    def audio_pull(self, frames: int) -> dict:
        """The next ``frames`` frames: a reply with ``position`` and ``pcm`` (float32 LE, interleaved)."""
        return self.request("audio_pull", frames=frames)

    def engine_stream(self, sample_rate: int, channels: int = 2) -> "EngineStream":
        """An :class:`EngineStream` on a connection of its own, to hand to an audio thread."""
        return EngineStream(self.commands, sample_rate, channels, timeout=self.timeout, curve=self.curve,
                            context=self._context)

    # Events --------------------------------------------------------------

    def subscribe(self, *topics: str) -> "Subscription":
        """An iterator over events of ``topics`` (all topics when none are given)."""
        return Subscription(self.events, topics, curve=self.curve, context=self._context)

    def subscribe_async(self, *topics: str) -> "AsyncSubscription":
        """An async iterator over events of ``topics``, for asyncio code."""
        return AsyncSubscription(self.events, topics, curve=self.curve)

    def listen(self, callback: Callable[[Event], Any], *topics: str) -> "Listener":
        """Call ``callback(event)`` from a background thread for each event; stop() ends it."""
        return Listener(self.events, topics, callback, curve=self.curve, context=self._context)


class EngineStream:
    """Pulls the music from a server started with ``serve --output engine``, on its own connection.

    For an engine's audio thread (it belongs to the thread that made it)::

        stream = EngineStream("tcp://127.0.0.1:5555", sample_rate=48000)
        position, pcm = stream.pull(1024)   # pcm: float32 array (1024, 2)

    Positions are contiguous: each pull starts where the last one ended
    (:attr:`position`). A second stream opened later takes the music over
    from where it is.
    """

    def __init__(self, commands: str = p.DEFAULT_COMMANDS, sample_rate: int = 48000, channels: int = 2, *,
                 timeout: float = 2.0, curve: ClientKeys | None = None, context: zmq.Context | None = None) -> None:
        self._client = Client(commands, timeout=timeout, curve=curve, context=context)
        try:
            reply = self._client.audio_open(sample_rate, channels)
        except BaseException:
            self._client.close()
            raise
        self.sample_rate: int = reply["sample_rate"]
        self.channels: int = reply["channels"]
        self.ahead: float | None = reply.get("ahead")
        """Seconds the server generates beyond what was pulled."""
        self.max_frames: int = reply["max_frames"]
        self.position: int = reply["position"]
        """Stream position of the next frame, at :attr:`sample_rate`."""

    def pull(self, frames: int) -> tuple[int, np.ndarray]:
        """The next ``frames`` frames: (stream position of the first, float32 array (frames, channels))."""
        reply = self._client.audio_pull(frames)
        pcm = np.frombuffer(reply["pcm"], "<f4").reshape(reply["frames"], reply["channels"])
        if reply["position"] != self.position:
            raise RuntimeError(f"the stream jumped from position {self.position} to {reply['position']}")
        self.position += reply["frames"]
        return reply["position"], pcm

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "EngineStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sub_socket(context: zmq.Context, address: str, topics: tuple[str, ...], curve: ClientKeys | None) -> zmq.Socket:
    socket = context.socket(zmq.SUB)
    socket.linger = 0
    if curve is not None:
        curve.apply(socket)
    for topic in topics or ("",):
        socket.subscribe(topic)
    socket.connect(address)
    return socket


def _event(frames: list[bytes], topics: tuple[str, ...]) -> Event | None:
    """The Event in ``frames``, or None when it is malformed or of another topic
    (SUB filters by prefix, so 'bar' would also let 'bars' through)."""
    if len(frames) != 2:
        return None
    topic = frames[0].decode("utf-8", "replace")
    if topics and topic not in topics:
        return None
    try:
        data = p.unpack(frames[1], _LIMITS)
    except Exception:
        return None
    return Event(topic, data) if isinstance(data, dict) else None


class Subscription:
    """Events from the server's PUB socket. Iterating blocks until the next event.

    PUB/SUB drops what is published before the subscription connects; the
    server publishes ``status`` every second so a late subscriber catches up.
    """

    def __init__(
        self,
        address: str,
        topics: tuple[str, ...] = (),
        *,
        curve: ClientKeys | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.topics = tuple(topics)
        self._socket = _sub_socket(context or zmq.Context.instance(), address, self.topics, curve)

    def recv(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (None waits forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000.0
            if not self._socket.poll(left, zmq.POLLIN):
                return None
            event = _event(self._socket.recv_multipart(), self.topics)
            if event is not None:
                return event

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.recv()
            if event is not None:
                yield event

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSubscription:
    """Events for asyncio code: ``async for event in subscription: ...``."""

    def __init__(self, address: str, topics: tuple[str, ...] = (), *, curve: ClientKeys | None = None) -> None:
        self.topics = tuple(topics)
        self._socket = _sub_socket(zmq.asyncio.Context.instance(), address, self.topics, curve)

    async def recv(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000.0
            if not await self._socket.poll(left, zmq.POLLIN):
                return None
            event = _event(await self._socket.recv_multipart(), self.topics)
            if event is not None:
                return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = None
        while event is None:
            event = await self.recv()
        return event

    def close(self) -> None:
        self._socket.close()

    async def __aenter__(self) -> "AsyncSubscription":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Listener:
    """Calls a callback for each event, from a thread that owns its own SUB socket."""

    _POLL_SECONDS = 0.05

    def __init__(
        self,
        address: str,
        topics: tuple[str, ...],
        callback: Callable[[Event], Any],
        *,
        curve: ClientKeys | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        args = (context or zmq.Context.instance(), address, tuple(topics), callback, curve)
        self._thread = threading.Thread(target=self._run, args=args, name="bridge-listener", daemon=True)
        self._error: BaseException | None = None
        self._thread.start()
        self._subscribed.wait()
        if self._error is not None:
            raise self._error

    def _run(self, context, address, topics, callback, curve) -> None:
        try:
            subscription = Subscription(address, topics, curve=curve, context=context)
        except BaseException as exc:  # handed to the constructor
            self._error = exc
            return
        finally:
            self._subscribed.set()
        with subscription:
            while not self._stop.is_set():
                event = subscription.recv(self._POLL_SECONDS)
                if event is None:
                    continue
                try:
                    callback(event)
                except Exception:  # one bad callback must not end the subscription
                    log.exception("bridge event callback failed")

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
