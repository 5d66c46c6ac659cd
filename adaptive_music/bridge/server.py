"""The bridge server: protocol v1 on a ROUTER (commands) and a PUB (events).

One thread owns both sockets. Beat, bar and mood-transition callbacks from
the soundtrack only append to a bounded queue and wake that thread through a pipe, so no
socket is ever touched by two threads.

When the soundtrack's output is one a game engine pulls (``serve --output
engine``), ``audio_pull`` requests are that output's clock: each one runs on
this thread, fires the callbacks of the beats and transitions in its block,
and the events they queue are published before the reply goes out.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import logging
import os
import threading
import time
from typing import Any, Mapping

import zmq

from ..mood.maps import MoodMap
from ..playback.engine_output import MAX_FRAMES, EngineOutput
from . import protocol as p
from .keys import ServerKeys
from .limits import ClientBuckets, LatestWins, Limits, TokenBucket
from .live import LiveSoundtrack, describe

log = logging.getLogger(__name__)

_BATCH = 256
"""Requests handled per wake-up before timers and queued events get a turn."""
_LINGER_MS = 200
"""How long close() may spend delivering replies still queued."""


@dataclasses.dataclass
class ServerStats:
    """Counters since the server started (read them from any thread)."""

    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    moods_applied: int = 0
    moods_coalesced: int = 0
    replies_dropped: int = 0
    events_published: int = 0


class Server:
    """Serves ``soundtrack`` to bridge clients.

    Use :meth:`run` to serve in the calling thread until :meth:`stop`, or
    :meth:`start` (or ``with Server(...)``) to serve from a background
    thread. Addresses may use a wildcard port (``tcp://127.0.0.1:*``); the
    bound ones are in :attr:`commands_endpoint` and :attr:`events_endpoint`
    once serving starts.
    """

    def __init__(
        self,
        soundtrack: LiveSoundtrack,
        *,
        commands: str = p.DEFAULT_COMMANDS,
        events: str = p.DEFAULT_EVENTS,
        moods: MoodMap | None = None,
        limits: Limits | None = None,
        curve: ServerKeys | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """
        :param moods: the mood map that resolves ``event`` requests and mood/stinger names.
        :param curve: CURVE keys; when given, only clients holding an accepted key get in.
        :param info: ``hello`` fields (sample_rate, channels, backend) that
            override those read from the soundtrack (:func:`~.live.describe`).
        """
        self.soundtrack = soundtrack
        self.moods = moods or MoodMap()
        self.limits = limits or Limits()
        self.curve = curve
        self.info = {**describe(soundtrack), **(info or {})}
        self.addresses = (commands, events)
        self.commands_endpoint: str | None = None
        self.events_endpoint: str | None = None
        self.stats = ServerStats()
        self._queued: collections.deque[tuple[str, dict]] = collections.deque(maxlen=self.limits.queue_length)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._wake_lock = threading.Lock()  # no write to the pipe once closed: its fd may be reused
        self._wake_open = True
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._bind_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._requests = ClientBuckets(self.limits.requests_per_second, self.limits.request_burst, self.limits.max_clients)
        self._stingers = TokenBucket(self.limits.stingers_per_second, self.limits.stinger_burst)
        self._moods = LatestWins(self.limits.mood_interval)
        self._intensities = LatestWins(self.limits.intensity_interval)
        self._intensity: float | None = None
        self._pub: zmq.Socket | None = None
        self.engine = getattr(soundtrack, "engine", None)
        """The soundtrack's :class:`~adaptive_music.playback.engine_output.EngineOutput`, if an engine pulls it."""
        self._audio_client: bytes | None = None  # the connection that sent the latest audio_open

    def replace_moods(self, moods: MoodMap) -> None:
        """Resolve requests with ``moods`` from now on (a studio saved an edited map).

        Safe from any thread: a request reads :attr:`moods` once, so it sees the
        old map or the new one, never a mix; the music plays on unchanged.
        """
        if not isinstance(moods, MoodMap):
            raise TypeError(f"replace_moods takes a MoodMap, got {type(moods).__name__}")
        self.moods = moods

    # Lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "Server":
        """Serve from a background thread; return once bound (or raise the bind error)."""
        if self._thread is not None:
            raise RuntimeError("the server was already started")
        self._thread = threading.Thread(target=self._serve_quietly, name="bridge-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the bridge server did not start")
        if self._bind_error is not None:
            self._thread.join()
            raise self._bind_error
        return self

    def run(self) -> None:
        """Serve in the calling thread until :meth:`stop` is called."""
        self._serve()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the sockets. Safe to call from any thread, and twice."""
        self._stopping.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wait(self) -> None:
        """Block until a started server stops (signal handlers still run meanwhile)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.2)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve_quietly(self) -> None:
        try:
            self._serve()
        except BaseException:  # a bind error was already handed to start()
            if not self._ready.is_set() or self._bind_error is None:
                raise

    def _serve(self) -> None:
        context = zmq.Context()
        auth = None
        sockets: list[zmq.Socket] = []
        try:
            try:
                if self.curve is not None:
                    auth = _start_authenticator(context, self.curve)
                router = self._bind(context, zmq.ROUTER, self.addresses[0], sockets)
                pub = self._bind(context, zmq.PUB, self.addresses[1], sockets)
                self.commands_endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
                self.events_endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
                self._pub = pub  # like the router, used by this thread only
                self.soundtrack.on_beat(self._beat)
                self.soundtrack.on_bar(self._bar)
                self.soundtrack.on_transition(self._transition)
            except BaseException as exc:
                self._bind_error = exc
                raise
            finally:
                self._ready.set()
            log.info("bridge serving commands on %s, events on %s", self.commands_endpoint, self.events_endpoint)
            self._loop(router)
        finally:
            self._stopping.set()
            for socket in sockets:
                socket.close()
            if auth is not None:
                auth.stop()
            context.term()
            with self._wake_lock:
                self._wake_open = False
                os.close(self._wake_r)
                os.close(self._wake_w)

    def _bind(self, context: zmq.Context, kind: int, address: str, sockets: list) -> zmq.Socket:
        socket = context.socket(kind)
        sockets.append(socket)
        socket.linger = _LINGER_MS
        socket.maxmsgsize = self.limits.max_message_bytes  # must precede bind
        socket.sndhwm = socket.rcvhwm = self.limits.queue_length
        if self.curve is not None:
            socket.curve_secretkey = self.curve.secret
            socket.curve_publickey = self.curve.public
            socket.curve_server = True
        elif not is_local(address):
            log.warning(
                "bridge bound to %s, which other machines can reach, without CURVE: anyone on the "
                "network can control the music. Use --curve-keys, or bind to 127.0.0.1.",
                address,
            )
        try:
            socket.bind(address)
        except zmq.ZMQError as exc:
            raise OSError(exc.errno, f"cannot bind {address}: {exc.strerror}") from None
        return socket

    # The loop ------------------------------------------------------------

    def _loop(self, router: zmq.Socket) -> None:
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_status = time.monotonic()
        while not self._stopping.is_set():
            now = time.monotonic()
            due = min([next_status] + [t for t in (self._moods.due(), self._intensities.due()) if t is not None])
            ready = dict(poller.poll(max(0.0, due - now) * 1000.0))
            if self._wake_r in ready:
                _drain(self._wake_r)
            if router in ready:
                for _ in range(_BATCH):
                    try:
                        frames = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._answer(router, frames)
            now = time.monotonic()
            try:
                self._apply_pending(now)
            except Exception as exc:  # the server must outlive a failing soundtrack call
                log.exception("applying a coalesced change failed")
                self._publish("error", {"code": p.INTERNAL, "message": f"{type(exc).__name__}: {exc}"})
            while self._queued:
                self._publish(*self._queued.popleft())
            if now >= next_status:
                self._publish_status()
                next_status = now + self.limits.status_interval

    def _answer(self, router: zmq.Socket, frames: list[bytes]) -> None:
        self.stats.requests += 1
        client = frames[0]
        id = None
        try:
            if len(frames) != 2:
                raise p.BridgeError(p.BAD_REQUEST, f"a request is one frame, got {len(frames) - 1}")
            request = p.parse_request(frames[1], self.limits)
            id = request.id
            if not self._requests.take(client):
                raise p.BridgeError(
                    p.RATE_LIMITED, f"more than {self.limits.requests_per_second:g} requests per second", id
                )
            reply = p.ok_reply(id, self._dispatch(request, client))
        except p.BridgeError as exc:
            reply = p.error_reply(exc.id if exc.id is not None else id, exc.code, exc.message)
        except Exception as exc:  # the server must outlive any bug in a handler
            log.exception("bridge request failed")
            message = f"{type(exc).__name__}: {exc}"
            reply = p.error_reply(id, p.INTERNAL, message)
            self._publish("error", {"code": p.INTERNAL, "message": message})
        if not reply["ok"]:
            self.stats.errors += 1
            if reply["error"]["code"] == p.RATE_LIMITED:
                self.stats.rate_limited += 1
        while self._queued:  # events a pull handed out go before its reply
            self._publish(*self._queued.popleft())
        try:
            router.send_multipart([client, p.pack(reply)], zmq.NOBLOCK)
        except zmq.Again:  # the client stopped reading; its queue is full
            self.stats.replies_dropped += 1

    def _dispatch(self, request: p.Request, client: bytes) -> dict | None:
        args = request.args
        kind = request.type
        if kind == "audio_pull":
            return self._audio_pull(args["frames"], client)
        if kind == "audio_open":
            return self._audio_open(args["sample_rate"], args["channels"], client)
        if kind == "status":
            return {**self._status(), "bridge": vars(self.stats).copy()}
        if kind == "set_mood":
            transition = args.get("transition", {})
            return self._set_mood(self.moods.mood_text(args["text"]), transition.get("quantize"), transition.get("ramp"))
        if kind == "set_param":
            return self._set_param(args["name"], args["value"])
        if kind == "event":
            return self._event(args["name"], args.get("params"))
        if kind == "stinger":
            self._take_stinger()
            _call(self.soundtrack.stinger, self.moods.stinger_text(args["name"]))
            return None
        if kind == "pause":
            _call(self.soundtrack.pause)
            return None
        if kind == "resume":
            _call(self.soundtrack.resume)
            return None
        if kind == "hello":
            return self._hello()
        raise AssertionError(f"no handler for {kind}")  # parse_request admits only known types

    # Handlers ----------------------------------------------------------

    def _hello(self) -> dict:
        moods = self.moods  # one read: a studio may replace the map meanwhile
        fields = {
            "server": "adaptive-music",
            "protocol": p.VERSION,
            "protocol_minor": p.MINOR_VERSION,
            "version": _package_version(),
        }
        for name in ("sample_rate", "channels", "backend", "output"):
            fields[name] = self.info.get(name)
        fields.update(
            types=[t for t in p.REQUEST_TYPES if self.engine is not None or t not in p.AUDIO_TYPES],
            topics=list(p.TOPICS),
            params=list(p.PARAMS),
            events=sorted(moods.events),
            moods=sorted(moods.moods),
            stingers=sorted(moods.stingers),
            limits=self.limits.as_dict(),
        )
        return fields

    # The engine output: the connection that sent the latest audio_open pulls the one stream.

    def _audio_open(self, sample_rate: int, channels: int, client: bytes) -> dict:
        engine = self._require_engine("audio_open")
        try:
            position = engine.open(sample_rate, channels)
        except ValueError as exc:
            raise p.BridgeError(p.BAD_REQUEST, f"audio_open: {exc}") from None
        self._audio_client = client
        return {"sample_rate": engine.sample_rate, "channels": engine.channels, "position": position,
                "ahead": self.info.get("ahead"), "max_frames": MAX_FRAMES}

    def _audio_pull(self, frames: int, client: bytes) -> dict:
        engine = self._require_engine("audio_pull")
        if client != self._audio_client:
            why = "send audio_open first" if self._audio_client is None else (
                "another connection sent the latest audio_open; send audio_open on this one to take the stream over")
            raise p.BridgeError(p.BAD_REQUEST, f"audio_pull: {why}")
        try:
            position, block = engine.pull(frames)
        except ValueError as exc:
            raise p.BridgeError(p.BAD_REQUEST, f"audio_pull: {exc}") from None
        return {"position": position, "frames": len(block), "channels": block.shape[1],
                "pcm": block.astype("<f4", copy=False).tobytes()}

    def _require_engine(self, kind: str) -> EngineOutput:
        if self.engine is None:
            raise p.BridgeError(
                p.BAD_REQUEST, f"{kind}: this server plays the music through its own {self.info.get('output')} "
                "output; start `adaptive-music serve --output engine` for a game engine to pull the audio")
        return self.engine

    def _status(self) -> dict:
        return dict(_call(self.soundtrack.status))

    def _set_param(self, name: str, value: float) -> dict:
        if name not in p.PARAMS:
            raise p.BridgeError(p.BAD_REQUEST, f"set_param: unknown param {name!r:.60}; known: {', '.join(p.PARAMS)}")
        if not 0.0 <= value <= 1.0:
            raise p.BridgeError(p.BAD_REQUEST, f"set_param: {name} must be in [0, 1], got {value:g}")
        self._set_intensity(value)
        return {"name": name, "value": value}

    # Deltas start from the value this server set last: it may still be waiting.

    def _current_intensity(self) -> float:
        if self._intensity is None:
            self._intensity = float(self._status().get("intensity", 0.0))
        return self._intensity

    def _event(self, name: str, params: dict | None) -> dict:
        try:
            action = self.moods.resolve(name, params)
        except KeyError:
            raise p.BridgeError(p.UNKNOWN_EVENT, f"event {name!r:.60} is not in the mood map") from None
        except ValueError as exc:
            raise p.BridgeError(p.BAD_REQUEST, str(exc)) from None
        if action.stinger is not None:
            self._take_stinger()  # before any change, so a refused event changes nothing
        fields = {"action": action.as_dict()}
        if action.mood is not None:  # first: the soundtrack may refuse the text
            fields.update(self._set_mood(action.mood, action.quantize, action.ramp))
        if action.intensity_delta is not None or action.intensity is not None:
            self._set_intensity(action.intensity_after(self._current_intensity()))
        if action.stinger is not None:
            _call(self.soundtrack.stinger, action.stinger)
        return fields

    def _take_stinger(self) -> None:
        if not self._stingers.take():
            raise p.BridgeError(p.RATE_LIMITED, f"more than {self.limits.stingers_per_second:g} stingers per second")

    # Mood and intensity changes are coalesced: at most one per interval passes
    # to the soundtrack, the latest wins. A mood change that may go at once is
    # applied before the reply, so the reply carries the soundtrack's verdict on
    # the text; a queued one reports a refusal on the error topic.

    def _set_mood(self, text: str, quantize: str | None, ramp: float | None) -> dict:
        change = {"text": text, "quantize": quantize or "now", "ramp": ramp}
        if self._moods.offer(change):
            self._apply_mood(change)
            return {"queued": False}
        self.stats.moods_coalesced = self._moods.coalesced
        return {"queued": True}

    def _set_intensity(self, value: float) -> None:
        self._intensity = value
        if self._intensities.offer(value):
            _call(self.soundtrack.set_intensity, value)

    def _apply_pending(self, now: float) -> None:
        change = self._moods.take(now)
        if change is not None:
            try:
                self._apply_mood(change)
            except p.BridgeError as exc:
                self._publish("error", {"code": exc.code, "message": f"set_mood {change['text']!r:.80}: {exc.message}"})
        value = self._intensities.take(now)
        if value is not None:
            self.soundtrack.set_intensity(value)

    def _apply_mood(self, change: dict) -> None:
        kwargs = {"transition": change["quantize"]}
        if change["ramp"] is not None:
            kwargs["ramp"] = change["ramp"]
        _call(self.soundtrack.set_mood, change["text"], **kwargs)
        self.stats.moods_applied += 1
        # No event here: ``mood`` events come from the soundtrack as the change is heard.

    # Events --------------------------------------------------------------

    def _beat(self, *args: Any) -> None:
        self._enqueue("beat", args)

    def _bar(self, *args: Any) -> None:
        self._enqueue("bar", args)

    def _transition(self, *args: Any) -> None:
        self._enqueue("mood", args)

    def _enqueue(self, topic: str, args: tuple) -> None:
        """Runs on the soundtrack's thread: no sockets here."""
        if self._stopping.is_set():
            return
        fields = _fields(args[0]) if len(args) == 1 else {"args": list(args)}
        # ``time`` is on this process's monotonic clock, meaningless to clients;
        # the position in the stream is what they can use.
        fields.pop("time", None)
        rate = self.engine.sample_rate if self.engine is not None else self.info.get("sample_rate")
        if isinstance(fields.get("sample"), int) and rate:
            fields["seconds"] = fields["sample"] / rate
        self._queued.append((topic, fields))
        self._wake()

    def _wake(self) -> None:
        with self._wake_lock:
            if self._wake_open:
                try:
                    os.write(self._wake_w, b"\0")
                except BlockingIOError:  # a full pipe: a wake-up is pending anyway
                    pass

    def _publish_status(self) -> None:
        try:
            status = self._status()
        except Exception as exc:
            self._publish("error", {"code": p.INTERNAL, "message": f"status failed: {exc}"})
            return
        self._publish("status", status)

    def _publish(self, topic: str, data: dict) -> None:
        try:
            frame = p.pack(data)
            self._pub.send_multipart([topic.encode(), frame], zmq.NOBLOCK)  # PUB drops, never blocks
        except Exception as exc:  # an event that cannot go out must not stop the server
            log.error("cannot publish a %s event: %s", topic, exc)
            return
        self.stats.events_published += 1


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a soundtrack control; a ValueError or KeyError from it is the client's fault."""
    try:
        return method(*args, **kwargs)
    except (ValueError, KeyError) as exc:
        raise p.BridgeError(p.BAD_REQUEST, str(exc)) from None


def _fields(obj: Any) -> dict:
    if isinstance(obj, Mapping):
        return dict(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return {"value": obj}


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _start_authenticator(context: zmq.Context, keys: ServerKeys) -> Any:
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(keys.clients))
    return auth


def is_local(address: str) -> bool:
    """Whether a bind address is reachable from this machine only."""
    transport, _, rest = address.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adaptive-music")
    except PackageNotFoundError:
        return "unknown"
