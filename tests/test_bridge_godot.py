"""The Godot addon (bridge/godot/addons/adaptive_music/).

Every .gd file is parsed, linted and format-checked with gdtoolkit. The logic files (msgpack,
ZMTP, connection, client, audio feed, event clock) are then RUN, as they are, by
bridge/godot/ci/gdscript_subset.py (Godot 4 cannot be installed here): against the shared test
vectors, against real libzmq sockets on loopback, and against the real bridge server. The
interpreter's stand-ins for Godot's built-in classes (PackedByteArray, StreamPeerTCP, ...) are
the part these tests cannot prove. adaptive_music.gd (the Node) and plugin.gd are only parsed.
"""

import importlib.util
import json
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq
from gdtoolkit.formatter import format_code
from gdtoolkit.linter import lint_code
from gdtoolkit.parser import parser

from adaptive_music.bridge import Server
from adaptive_music.mood.maps import EXAMPLE, load_mood_map
from adaptive_music.playback.device import ClockedFileSink
from adaptive_music.playback.soundtrack import Soundtrack
from test_bridge_testvectors import MSGPACK, ZMTP, generate, same, zmtp

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "bridge" / "godot" / "addons" / "adaptive_music"
LOGIC = ["msgpack.gd", "zmtp.gd", "connection.gd", "client.gd", "audio_feed.gd", "event_clock.gd"]


def load_interpreter_module():
    spec = importlib.util.spec_from_file_location("gdscript_subset", ROOT / "bridge" / "godot" / "ci" / "gdscript_subset.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gdscript_subset"] = module
    spec.loader.exec_module(module)
    return module


gd = load_interpreter_module()


@pytest.fixture(scope="module")
def godot():
    return gd.Interpreter([ADDON / name for name in LOGIC])


def to_gd(value):
    """A Python value (from the vectors) as the interpreter holds it: bytes -> PackedByteArray."""
    if isinstance(value, bytes):
        return gd.PackedByteArray(value)
    if isinstance(value, list):
        return [to_gd(v) for v in value]
    if isinstance(value, dict):
        return {to_gd(k): to_gd(v) for k, v in value.items()}
    return value


def to_python(value):
    if isinstance(value, gd.PackedByteArray):
        return bytes(value.data)
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    return value


def packed(data: bytes):
    return gd.PackedByteArray(data)


# --- every .gd file: parse, lint, format ---

GD_FILES = sorted((ROOT / "bridge" / "godot").rglob("*.gd"))


def test_the_addon_has_its_files():
    names = {path.name for path in GD_FILES}
    assert set(LOGIC) | {"adaptive_music.gd", "plugin.gd"} <= names
    config = (ADDON / "plugin.cfg").read_text(encoding="utf-8")
    assert 'script="plugin.gd"' in config and "[plugin]" in config


@pytest.mark.parametrize("path", GD_FILES, ids=[p.name for p in GD_FILES])
def test_gd_file_parses_lints_and_is_formatted(path):
    code = path.read_text(encoding="utf-8")
    parser.parse(code)
    problems = lint_code(code)
    assert not problems, [f"{path.name}:{p.line}: {p.description}" for p in problems]
    assert format_code(code, max_line_length=100) == code, f"{path.name} is not gdformat-formatted"


# --- msgpack.gd against the vectors ---

TOO_BIG_FOR_GDSCRIPT = {"uint64 2^63", "uint64 2^64-1"}


@pytest.mark.parametrize("vector", MSGPACK, ids=[v["name"] for v in MSGPACK])
def test_gdscript_msgpack_decodes_the_vector(godot, vector):
    result = godot.call_static("AdaptiveMusicMsgpack", "decode", packed(bytes.fromhex(vector["hex"])))
    if vector["name"] in TOO_BIG_FOR_GDSCRIPT:
        assert not result["ok"] and "does not fit a GDScript int" in result["error"]
        return
    assert result["ok"], result.get("error")
    assert same(to_python(result["value"]), generate.to_python(vector["value"]))


CANONICAL = [v for v in MSGPACK if v["canonical"] and v["name"] not in TOO_BIG_FOR_GDSCRIPT]


@pytest.mark.parametrize("vector", CANONICAL, ids=[v["name"] for v in CANONICAL])
def test_gdscript_msgpack_encodes_the_canonical_bytes(godot, vector):
    result = godot.call_static("AdaptiveMusicMsgpack", "encode", to_gd(generate.to_python(vector["value"])))
    assert result["ok"], result.get("error")
    assert bytes(result["bytes"].data).hex() == vector["hex"]


def test_gdscript_msgpack_refuses_bad_input_with_a_clear_error(godot):
    def decode(data: bytes):
        return godot.call_static("AdaptiveMusicMsgpack", "decode", packed(data))

    request = bytes.fromhex(next(v for v in MSGPACK if v["name"] == "request event with params")["hex"])
    for cut in range(len(request)):
        result = decode(request[:cut])
        assert not result["ok"] and "truncated" in result["error"], cut
    assert "1 bytes after the value" in decode(request + b"\x00")["error"]
    assert "0xc1" in decode(b"\xc1")["error"]
    assert "0xd4" in decode(b"\xd4\x01\x02")["error"]  # ext types are not in the protocol
    assert "nested deeper" in decode(b"\x91" * 40 + b"\x00")["error"]
    started = time.monotonic()
    assert "truncated" in decode(b"\xdd\x7f\xff\xff\xff\x00")["error"]  # 2^31 elements claimed, none allocated
    assert time.monotonic() - started < 0.5
    refused = godot.call_static("AdaptiveMusicMsgpack", "encode", {"v": gd.Vector2(1, 2)})
    assert not refused["ok"] and refused["error"] == "msgpack: cannot encode a Vector2"


# --- zmtp.gd against the vectors ---

def test_gdscript_zmtp_writes_the_vector_bytes(godot):
    def call(name, *args):
        return bytes(godot.call_static("AdaptiveMusicZmtp", name, *args).data)

    assert call("greeting") == zmtp("greeting client NULL 3.0")
    assert call("ready_command", "DEALER") == zmtp("READY DEALER")
    assert call("ready_command", "DEALER", packed(b"abc")) == zmtp("READY DEALER Identity abc")
    assert call("ready_command", "SUB") == zmtp("READY SUB")
    assert call("ready_command", "SUB", packed(b"abc")) == zmtp("READY SUB Identity abc")
    assert call("subscription", "beat") == zmtp("subscribe 3.0 beat")
    assert call("subscription", "") == zmtp("subscribe 3.0 everything")
    assert call("subscription", "beat", False) == zmtp("cancel 3.0 beat")
    frames = [v for v in ZMTP.values() if v["kind"] == "frame"]
    for vector in frames:
        assert call("frame", packed(bytes.fromhex(vector["body_hex"])), vector["more"]).hex() == vector["hex"]
    event = ZMTP["event message beat"]
    parts = [packed(bytes.fromhex(f["body_hex"])) for f in event["frames"]]
    assert call("message", parts).hex() == event["hex"]


def parse_all(godot, chunks):
    zmtp_class = godot.globals["AdaptiveMusicZmtp"]
    parser_ = godot.new(zmtp_class.inner["Parser"], [])
    items = []
    for chunk in chunks:
        godot.call(parser_.cls.functions["feed"], parser_, [packed(chunk)])
        while True:
            item = godot.call(parser_.cls.functions["next"], parser_, [])
            if not item:
                break
            items.append(to_python(item))
    return items


@pytest.mark.parametrize("chunking", ["whole", "byte by byte"])
def test_gdscript_zmtp_parser_reads_what_libzmq_sends(godot, chunking):
    stream = (zmtp("greeting libzmq 4.3 DEALER") + zmtp("READY ROUTER") + zmtp("event message beat")
              + zmtp("frame long more 300 bytes") + zmtp("frame empty"))
    chunks = [stream] if chunking == "whole" else [stream[i:i + 1] for i in range(len(stream))]
    items = parse_all(godot, chunks)
    assert items[0] == {"kind": "greeting", "major": 3, "minor": 1, "mechanism": "NULL"}
    assert items[1]["kind"] == "command" and items[1]["name"] == "READY"
    assert items[1]["properties"] == {"Socket-Type": b"ROUTER", "Identity": b""}
    event = ZMTP["event message beat"]
    assert items[2] == {"kind": "message", "frames": [bytes.fromhex(f["body_hex"]) for f in event["frames"]]}
    assert items[3] == {"kind": "message", "frames": [b"x" * 300, b""]}
    assert len(items) == 4


def test_gdscript_zmtp_parser_refuses_what_it_must(godot):
    bad_signature = b"\xfe" + zmtp("greeting libzmq 4.3 DEALER")[1:]
    assert parse_all(godot, [bad_signature])[0]["error"] == "zmtp: the peer is not a ZeroMQ 3.x socket (bad signature)"
    curve = zmtp("greeting libzmq 4.3 DEALER")[:12] + b"CURVE".ljust(20, b"\0") + bytes(32)
    assert "CURVE" in parse_all(godot, [curve])[0]["error"]
    oversized = zmtp("greeting libzmq 4.3 DEALER") + b"\x02" + (1 << 40).to_bytes(8, "big")
    items = parse_all(godot, [oversized])
    assert items[-1]["kind"] == "error" and "over the" in items[-1]["error"]
    refused = zmtp("greeting libzmq 4.3 DEALER") + generate.frame(b"\x05ERROR\x0bbad address", command=True)
    assert parse_all(godot, [refused])[-1]["error"] == "zmtp: the peer refused the connection: bad address"


# --- connection.gd + client.gd over real sockets ---

def now_ms() -> int:
    return int(time.monotonic() * 1000)


class Driver:
    """Calls a GDScript object's poll(now_ms) like _process does, collecting what comes out."""

    def __init__(self, godot, instance):
        self.godot, self.instance = godot, instance
        self.items: list[dict] = []
        self.backlog: list[dict] = []
        self.longest_poll = 0.0

    def call(self, name, *args):
        return self.godot.call(self.instance.cls.functions[name], self.instance, list(args))

    def poll(self):
        started = time.monotonic()
        new = [to_python(item) for item in self.call("poll", now_ms())]
        self.longest_poll = max(self.longest_poll, time.monotonic() - started)
        self.items.extend(new)
        return new

    def until(self, predicate, timeout=5.0, what="the expected item"):
        """The first item not yet taken that matches (items before it stay available)."""
        deadline = time.monotonic() + timeout
        while True:
            for index, item in enumerate(self.backlog):
                if predicate(item):
                    return self.backlog.pop(index)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; got {self.items[-10:]}")
            self.backlog.extend(self.poll())
            time.sleep(0.001)

    def reply(self, request_id, timeout=5.0):
        return self.until(lambda i: i["kind"] == "reply" and i["id"] == request_id, timeout, f"reply {request_id}")

    def request(self, type, fields=None):
        return self.call("request", type, to_gd(fields or {}), now_ms())


def make_client(godot, commands, events="", timeout_ms=2000):
    instance = godot.new(godot.globals["AdaptiveMusicClient"], [commands, events])
    instance.fields["timeout_ms"] = timeout_ms
    driver = Driver(godot, instance)
    driver.call("open", now_ms())
    return driver


@pytest.fixture
def clients():
    made = []
    yield made
    for driver in made:
        driver.call("close")


def test_unreachable_server_fails_fast_and_never_blocks(godot, clients):
    with socket_port() as port:
        pass  # the port is free again: nothing listens on it
    client = make_client(godot, f"tcp://127.0.0.1:{port}")
    clients.append(client)
    started = time.monotonic()
    request_id = client.request("status")
    reply = client.reply(request_id, timeout=1.0)
    assert time.monotonic() - started < 0.2
    assert reply["ok"] is False and reply["reply"]["error"]["code"] == "not_connected"
    assert f"127.0.0.1:{port}" in reply["reply"]["error"]["message"]
    for _ in range(200):
        client.poll()
        time.sleep(0.002)
    assert client.longest_poll < 0.05


class socket_port:
    """A free loopback TCP port."""

    def __enter__(self):
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


@pytest.fixture
def router():
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.linger = 0
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    yield socket, f"tcp://127.0.0.1:{port}"
    socket.close()
    context.term()


def serve_raw(socket, answer, count=1, timeout=5.0):
    """Answer `count` requests on a real ROUTER with answer(request) (None: no reply)."""
    for _ in range(count):
        assert socket.poll(int(timeout * 1000)), "the ROUTER got no request"
        peer, frame = socket.recv_multipart()
        reply = answer(msgpack.unpackb(frame))
        if reply is not None:
            socket.send_multipart([peer, msgpack.packb(reply)])


def test_ids_timeouts_pipelining_and_version_check_against_a_real_router(godot, clients, router):
    socket, address = router
    client = make_client(godot, address, timeout_ms=300)
    clients.append(client)
    client.until(lambda i: i["kind"] == "connected", what="connection")
    serve_raw(socket, lambda r: {"v": 1, "id": r["id"], "ok": True, "protocol": 2, "server": "adaptive-music"})
    error = client.until(lambda i: i["kind"] == "error")
    assert error["code"] == "bad_version" and "protocol 2" in error["message"] and "speaks 1" in error["message"]

    ids = [client.request("set_param", {"name": "intensity", "value": i / 10}) for i in range(10)]
    received = []
    serve_raw(socket, lambda r: received.append(r) or {"v": 1, "id": r["id"], "ok": True, "value": r["value"]},
              count=10)
    replies = [client.reply(i) for i in ids]
    assert [r["reply"]["value"] for r in replies] == [i / 10 for i in range(10)]
    assert [r["id"] for r in received] == ids and all(r["v"] == 1 and r["type"] == "set_param" for r in received)

    late = client.request("status")
    serve_raw(socket, lambda r: None)
    started = time.monotonic()
    timed_out = client.reply(late)
    assert timed_out["reply"]["error"]["code"] == "timeout" and 0.2 < time.monotonic() - started < 0.6
    assert client.call("pending_count") == 0


# --- against the real bridge server ---

MOODS = load_mood_map(EXAMPLE)


def start_server(tmp_path, commands="tcp://127.0.0.1:*", events="tcp://127.0.0.1:*"):
    soundtrack = Soundtrack(backend="procedural", seed=3, mood="calm exploration, soft strings",
                            sink=ClockedFileSink(tmp_path / "live.wav"))
    soundtrack.__enter__()
    server = Server(soundtrack, commands=commands, events=events, moods=MOODS)
    server.__enter__()
    return soundtrack, server


def stop_server(soundtrack, server):
    server.__exit__(None, None, None)
    soundtrack.__exit__(None, None, None)


def test_every_command_and_event_against_the_real_server(godot, clients, tmp_path):
    soundtrack, server = start_server(tmp_path)
    try:
        client = make_client(godot, server.commands_endpoint, server.events_endpoint)
        clients.append(client)
        hello = client.until(lambda i: i["kind"] == "reply" and i["type"] == "hello")
        assert hello["ok"] and hello["reply"]["protocol"] == 1 and hello["reply"]["server"] == "adaptive-music"
        client.until(lambda i: i["kind"] == "connected" and i["socket"] == "events")

        requests = {
            "set_mood": {"text": "tense stealth, muted strings", "transition": {"quantize": "now", "ramp": 0.5}},
            "event": {"name": "combat_end", "params": {}},  # plays no stinger (burst 1)
            "set_param": {"name": "intensity", "value": 0.8},
            "stinger": {"name": "item"},
            "status": {},
            "pause": {},
            "resume": {},
        }
        replies = {}
        for type, fields in requests.items():
            replies[type] = client.reply(client.request(type, fields))
            assert replies[type]["ok"], (type, replies[type])
        assert isinstance(replies["set_mood"]["reply"]["queued"], bool)
        assert replies["event"]["reply"]["action"]["mood"]
        assert replies["set_param"]["reply"]["value"] == 0.8
        assert replies["status"]["reply"]["paused"] is False

        bad = client.reply(client.request("set_param", {"name": "intensity", "value": 1.5}))
        assert not bad["ok"] and bad["reply"]["error"]["code"] == "bad_request"
        unknown = client.reply(client.request("event", {"name": "no_such_event"}))
        assert unknown["reply"]["error"]["code"] == "unknown_event"

        for topic in ("beat", "bar", "mood", "status"):
            event = client.until(lambda i: i["kind"] == "event" and i["topic"] == topic, timeout=10, what=topic)
            if topic in ("beat", "bar", "mood"):
                assert isinstance(event["data"]["sample"], int)
    finally:
        stop_server(soundtrack, server)


def test_the_client_survives_a_server_restart(godot, clients, tmp_path):
    soundtrack, server = start_server(tmp_path)
    commands, events = server.commands_endpoint, server.events_endpoint
    client = make_client(godot, commands, events)
    clients.append(client)
    client.until(lambda i: i["kind"] == "reply" and i["type"] == "hello" and i["ok"])
    stop_server(soundtrack, server)
    started = time.monotonic()
    client.until(lambda i: i["kind"] == "disconnected" and i["socket"] == "commands")
    refused = client.reply(client.request("status"))
    assert refused["reply"]["error"]["code"] == "not_connected"
    soundtrack, server = start_server(tmp_path, commands, events)
    try:
        client.until(lambda i: i["kind"] == "connected" and i["socket"] == "commands" and i["reconnect"], timeout=10)
        client.until(lambda i: i["kind"] == "reply" and i["type"] == "hello" and i["ok"])
        assert time.monotonic() - started < 10
        assert client.reply(client.request("status"))["ok"]
        client.until(lambda i: i["kind"] == "event" and i["topic"] == "beat", timeout=10, what="beat after restart")
    finally:
        stop_server(soundtrack, server)


# --- audio_feed.gd + event_clock.gd against a real `serve --output engine` ---

class SimulatedGenerator:
    """Stands in for Godot's AudioStreamGeneratorPlayback as its class reference describes it: a
    ring of `capacity` frames, get_frames_available() = free space, push_buffer() all or nothing,
    get_skips() = mixes that found too few frames (the rest played as silence). mix() is the
    engine's audio thread taking the next block; what it takes is kept in `heard`."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.buffer: list = []
        self.heard: list = []
        self.skips = 0

    def get_frames_available(self):
        return self.capacity - len(self.buffer)

    def push_buffer(self, frames):
        if len(frames.values) > self.get_frames_available():
            return False
        self.buffer.extend((v.x, v.y) for v in frames.values)
        return True

    def get_skips(self):
        return self.skips

    def mix(self, frames: int):
        if len(self.buffer) < frames:
            self.skips += 1
        self.heard.extend(self.buffer[:frames])
        del self.buffer[:frames]


def start_engine_server(tmp_path, commands="tcp://127.0.0.1:*", events="tcp://127.0.0.1:*"):
    from adaptive_music.playback.engine_output import EngineOutput

    soundtrack = Soundtrack(backend="procedural", seed=5, mood="calm exploration, soft strings", sink=EngineOutput())
    soundtrack.__enter__()
    server = Server(soundtrack, commands=commands, events=events, moods=MOODS)
    server.__enter__()
    served = []  # every (position, block) the server hands out, recorded as it returns them
    pull = server.engine.pull
    server.engine.pull = lambda frames: served.append(pull(frames)) or served[-1]
    return soundtrack, server, served


class EngineGame:
    """A 60 fps game at 44.1 kHz on a simulated engine clock: each tick runs what the node's
    _process runs (client and feed polls, fill, due events), then the mixer takes a game frame's
    worth of audio in 512-frame mixes. The network answers within a frame on loopback, so a tick
    waits for the pulls in flight (up to 50 ms) instead of sleeping 16 ms."""

    RATE, TICK, MIX = 44100, 735, 512

    def __init__(self, godot, clients, server):
        self.godot = godot
        self.feed = Driver(godot, godot.new(godot.globals["AdaptiveMusicAudioFeed"],
                                            [server.commands_endpoint, self.RATE, 1024, self.RATE // 10]))
        self.generator = SimulatedGenerator(8192)
        self.feed.call("attach", self.generator)
        self.feed.call("open", now_ms())
        self.client = make_client(godot, server.commands_endpoint, server.events_endpoint)
        clients.extend([self.client, Driver(godot, self.feed.instance.fields["client"])])
        self.client.until(lambda i: i["kind"] == "connected" and i["socket"] == "events")
        deadline = time.monotonic() + 10
        while self.feed.instance.fields["position"] < 0:  # wait for the audio_open reply
            assert time.monotonic() < deadline, f"no audio_open reply: {self.feed.items[-5:]}"
            self.feed.poll()
            time.sleep(0.001)
        self.clock = Driver(godot, godot.new(godot.globals["AdaptiveMusicEventClock"], []))
        self.released, self.late, self.errors = [], [], []
        self.mixed, self._pending_mix = 0, 0

    def tick(self, stalled=False):
        """One game frame; stalled: the main thread hangs (no polls, no fill) but the mixer runs."""
        if not stalled:
            for item in self.client.poll():
                if item["kind"] == "event" and item["topic"] in ("beat", "bar", "mood"):
                    if item["data"]["sample"] < self.feed.call("played_position", 0):
                        self.late.append(item)
                    self.clock.call("add", item["topic"], to_gd(item["data"]))
            deadline = time.monotonic() + 0.05
            while True:
                self.errors += [i for i in self.feed.poll() if i["kind"] == "error"]
                if not self.feed.instance.fields["_pulls"] or time.monotonic() > deadline:
                    break
                time.sleep(0.0005)
            self.feed.call("fill")
        if self.generator.heard or len(self.generator.buffer) >= self.RATE // 10:  # the mixer starts once primed
            self._pending_mix += self.TICK
            while self._pending_mix >= self.MIX:
                self.generator.mix(self.MIX)
                self._pending_mix -= self.MIX
                self.mixed += self.MIX
        if not stalled:
            played = self.feed.call("played_position", 0)
            for topic, data in self.clock.call("due", played):
                self.released.append((topic, data["sample"], played))

    def assert_heard_what_was_served(self, served):
        import numpy as np

        starts = [start for start, _ in served]
        blocks = [block for _, block in served]
        assert starts == [starts[0] + sum(len(b) for b in blocks[:i]) for i in range(len(blocks))]
        stream = np.concatenate(blocks)
        heard = np.array(self.generator.heard, dtype=np.float32)
        assert np.array_equal(heard, stream[:len(heard)])  # every frame, in order, bit for bit
        assert self.feed.instance.fields["position"] == starts[0] + len(heard) + len(self.generator.buffer)
        assert 0.01 < float(np.sqrt(np.mean(heard ** 2))) and float(np.abs(heard).max()) <= 1.0
        return heard


def test_engine_output_plays_every_pulled_frame_and_fires_events_on_their_sample(godot, clients, tmp_path):
    soundtrack, server, served = start_engine_server(tmp_path)
    try:
        game = EngineGame(godot, clients, server)
        for tick in range(60 * 3):  # three seconds of game frames
            if tick == 60:
                game.client.request("set_mood", {"text": "tense stealth, muted strings"})
            game.tick()
        fields = game.feed.instance.fields
        assert fields["gaps"] == 0 and fields["last_error"] == "" and not game.errors
        assert game.feed.call("underruns") == game.generator.skips == 0
        heard = game.assert_heard_what_was_served(served)
        assert len(heard) == game.mixed > 2.5 * game.RATE
        assert not game.late
        beats = [r for r in game.released if r[0] == "beat"]
        assert len(beats) >= 3 and any(r[0] == "mood" for r in game.released)
        for topic, sample, played in game.released:
            assert 0 <= played - sample <= game.TICK + game.MIX, (topic, sample, played)
    finally:
        stop_server(soundtrack, server)


def test_a_game_hitch_is_a_counted_underrun_and_the_stream_goes_on(godot, clients, tmp_path):
    soundtrack, server, served = start_engine_server(tmp_path)
    try:
        game = EngineGame(godot, clients, server)
        for _ in range(30):
            game.tick()
        assert game.feed.call("underruns") == 0
        for _ in range(15):  # a 250 ms hang of the main thread, longer than the 100 ms buffer
            game.tick(stalled=True)
        hitch = game.feed.call("underruns")
        assert hitch > 0
        for _ in range(30):
            game.tick()
        assert game.feed.call("underruns") == hitch  # no more after the hang
        assert game.feed.instance.fields["gaps"] == 0
        game.assert_heard_what_was_served(served)  # nothing skipped or repeated, only delayed
    finally:
        stop_server(soundtrack, server)


def test_the_audio_feed_survives_a_server_restart(godot, clients, tmp_path):
    soundtrack, server, served = start_engine_server(tmp_path)
    commands, events = server.commands_endpoint, server.events_endpoint
    game = EngineGame(godot, clients, server)
    for _ in range(20):
        game.tick()
    blocks = game.feed.instance.fields["blocks"]
    assert blocks > 0
    stop_server(soundtrack, server)
    game.feed.until(lambda i: i["kind"] == "disconnected", what="the audio connection's loss")
    soundtrack, server, served = start_engine_server(tmp_path, commands, events)
    try:
        game.feed.until(lambda i: i["kind"] == "error" and "the stream continues at" in i["message"], timeout=10)
        deadline = time.monotonic() + 10
        while game.feed.instance.fields["blocks"] < blocks + 3 and time.monotonic() < deadline:
            game.tick()
        fields = game.feed.instance.fields
        assert fields["blocks"] >= blocks + 3 and fields["gaps"] == 1  # the restart, counted once
        assert served and fields["position"] <= served[-1][0] + len(served[-1][1])
    finally:
        stop_server(soundtrack, server)


def test_audio_feed_reports_a_server_without_engine_output(godot, clients, tmp_path):
    soundtrack, server = start_server(tmp_path)
    try:
        feed = Driver(godot, godot.new(godot.globals["AdaptiveMusicAudioFeed"],
                                       [server.commands_endpoint, 48000, 1024, 4800]))
        feed.call("attach", SimulatedGenerator(8192))
        feed.call("open", now_ms())
        clients.append(Driver(godot, feed.instance.fields["client"]))
        error = feed.until(lambda i: i["kind"] == "error", what="an error item")
        assert error["code"] == "audio" and "serve --output engine" in error["message"]
        assert feed.instance.fields["last_error"] == error["message"]
        assert feed.call("fill") == 0 and feed.instance.fields["position"] == -1
    finally:
        stop_server(soundtrack, server)


# --- event_clock.gd ---

def test_event_clock_releases_events_when_playback_reaches_their_sample(godot):
    clock = Driver(godot, godot.new(godot.globals["AdaptiveMusicEventClock"], []))
    clock.call("add", "beat", {"bar": 0, "beat": 0, "sample": 1000})
    clock.call("add", "mood", {"phase": "start", "sample": 1000})
    clock.call("add", "bar", {"bar": 1, "beat": 0, "sample": 2000})
    assert clock.call("due", 999) == []
    assert [pair[0] for pair in clock.call("due", 1000)] == ["beat", "mood"]
    assert clock.call("size") == 1
    assert [pair[0] for pair in clock.call("due", 5000)] == ["bar"]
    clock.call("add", "mood", {"phase": "end"})  # no sample: due at once
    assert clock.call("due", 0) == [["mood", {"phase": "end"}]]


# --- the interpreter itself ---

SEMANTICS = """class_name Semantics
extends RefCounted

enum Kind { A, B = 5, C }


static func arithmetic() -> Array:
	return [7 / 2, -7 / 2, -7 % 2, 7 % -2, 7.0 / 2, 0x7fffffffffffffff + 1, -1 >> 1, 1 and 2, [] or {}]


static func typed() -> Array:
	var f: float = 1
	var i: int = 2.9
	return [f, i, Kind.B, Kind.C, "%02x|%s|%d" % [10, null, 3.7]]


static func references() -> Array:
	var bytes := PackedByteArray()
	_grow(bytes)
	var items := []
	_grow_array(items)
	return [bytes.size(), items.size(), bytes.slice(0, 1).size()]


static func _grow(bytes: PackedByteArray) -> void:
	bytes.append(300)


static func _grow_array(items: Array) -> void:
	items.append(1)


static func mismatch() -> bool:
	return 1 == "1"


static func unsupported() -> void:
	await mismatch()
"""


def test_the_interpreter_follows_gdscript_rules(tmp_path):
    source = tmp_path / "semantics.gd"
    source.write_text(SEMANTICS, encoding="utf-8")
    godot = gd.Interpreter([source])
    assert godot.call_static("Semantics", "arithmetic") == [3, -3, -1, 1, 3.5, -(2**63), -1, True, False]
    f, i, b, c, text = godot.call_static("Semantics", "typed")
    assert (f, type(f), i, b, c, text) == (1.0, float, 2, 5, 6, "0a|<null>|3")
    assert godot.call_static("Semantics", "references") == [1, 1, 1]
    with pytest.raises(gd.GDScriptError, match="invalid operands 1 == 1"):
        godot.call_static("Semantics", "mismatch")
    with pytest.raises(gd.GDScriptError, match="semantics.gd:.*await_expr is outside the supported subset"):
        godot.call_static("Semantics", "unsupported")


def test_the_vectors_catch_a_change_in_the_gdscript_source(tmp_path):
    """The tests run the .gd text itself: a one-byte slip in msgpack.gd fails them."""
    source = (ADDON / "msgpack.gd").read_text(encoding="utf-8")
    broken = tmp_path / "msgpack.gd"
    broken.write_text(source.replace("out.append(0xcd)", "out.append(0xce)", 1), encoding="utf-8")
    vector = next(v for v in MSGPACK if v["name"] == "uint16 256")
    good = gd.Interpreter([ADDON / "msgpack.gd"]).call_static("AdaptiveMusicMsgpack", "encode", 256)
    bad = gd.Interpreter([broken]).call_static("AdaptiveMusicMsgpack", "encode", 256)
    assert bytes(good["bytes"].data).hex() == vector["hex"] != bytes(bad["bytes"].data).hex()
