"""The bridge over real sockets on loopback, driving a real Soundtrack into a clocked WAV."""

import asyncio
import logging
import math
import threading
import time

import msgpack
import pytest
import zmq

from adaptive_music.bridge import BridgeError, Client, ClientKeys, Limits, Server, ServerKeys, generate_keys
from adaptive_music.bridge.server import is_local
from adaptive_music.mood.maps import EXAMPLE, load_mood_map
from adaptive_music.playback.device import ClockedFileSink
from adaptive_music.playback.soundtrack import Soundtrack

ANY_PORT = "tcp://127.0.0.1:*"
MOODS = load_mood_map(EXAMPLE)


@pytest.fixture
def recording(tmp_path):
    return tmp_path / "live.wav"


@pytest.fixture
def soundtrack(recording):
    with Soundtrack(backend="procedural", seed=3, mood="calm exploration, soft strings",
                    sink=ClockedFileSink(recording)) as live:
        yield live


def serve(soundtrack, **options):
    options.setdefault("moods", MOODS)
    return Server(soundtrack, commands=ANY_PORT, events=ANY_PORT, **options)


@pytest.fixture
def server(soundtrack):
    with serve(soundtrack) as running:
        yield running


@pytest.fixture
def client(server):
    with Client(server.commands_endpoint, server.events_endpoint, timeout=5) as c:
        yield c


def raw_dealer(server):
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(server.commands_endpoint)
    return socket


def exchange(socket, *frames, timeout=5.0):
    socket.send_multipart(list(frames))
    assert socket.poll(timeout * 1000), "no reply"
    return msgpack.unpackb(socket.recv())


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def request(type, id=1, **fields):
    return msgpack.packb({"v": 1, "id": id, "type": type, **fields})


# Every command type ------------------------------------------------------------


def test_hello_describes_the_server(client):
    hello = client.hello()
    assert hello["server"] == "adaptive-music" and hello["protocol"] == 1
    assert hello["sample_rate"] > 0 and hello["channels"] in (1, 2) and hello["backend"] == "procedural"
    assert set(hello["types"]) == {"hello", "set_mood", "event", "set_param", "stinger", "status", "pause", "resume"}
    assert hello["events"] == sorted(MOODS.events) and "combat" in hello["moods"] and "danger" in hello["stingers"]
    assert hello["limits"]["max_message_bytes"] == 65536


def test_every_command_changes_the_soundtrack(client, soundtrack):
    status = client.status()
    assert {"mood", "intensity", "playhead", "buffered", "underruns", "bpm", "bar", "beat"} <= set(status)
    assert status["ok"] is True and status["id"] > 0

    client.set_mood("combat", quantize="now", ramp=0)  # a mood-map name resolves to its text
    assert wait_for(lambda: MOODS.moods["combat"] in str(client.status()["mood"]))

    def intensity_becomes(value):
        return wait_for(lambda: client.status()["intensity"] == pytest.approx(value))

    assert client.set_intensity(0.2)["value"] == 0.2
    assert intensity_becomes(0.2)
    assert client.event("player_hit")["action"] == {"intensity_delta": 0.1}
    assert client.event("player_hit")["action"] == {"intensity_delta": 0.1}  # deltas add up at once
    assert intensity_becomes(0.4)
    reply = client.event("boss_phase_2")
    assert reply["action"]["mood"] == MOODS.moods["boss_enraged"] and reply["action"]["intensity"] == 1.0
    assert wait_for(lambda: MOODS.moods["boss_enraged"] in str(client.status()["mood"]))
    client.event("danger_level", {"danger": 0.3})
    assert intensity_becomes(0.3)

    client.stinger("danger")
    time.sleep(0.5)  # stingers are limited to 2 per second, server-wide
    client.stinger("a short triumphant bell flourish")

    client.pause()
    assert client.status()["paused"] is True
    client.resume()
    assert client.status()["paused"] is False


# Errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frames, code, id",
    [
        ([b"\xc1\x00"], "bad_request", None),
        ([msgpack.packb([1, 2, 3])], "bad_request", None),
        ([msgpack.packb({"v": 1, "type": "status"})], "bad_request", None),
        ([request("status"), b"second frame"], "bad_request", None),
        ([msgpack.packb({"v": 9, "id": 4, "type": "status"})], "bad_version", 4),
        ([request("teleport", id=5)], "unknown_type", 5),
        ([request("set_mood", id=6)], "bad_request", 6),
        ([request("set_mood", id=7, text=["calm"])], "bad_request", 7),
        ([request("set_mood", id=8, text="x" * 5000)], "too_large", 8),
        ([request("set_param", id=9, name="intensity", value=math.nan)], "bad_request", 9),
        ([request("set_param", id=10, name="intensity", value=1.5)], "bad_request", 10),
        ([request("set_param", id=11, name="volume", value=0.5)], "bad_request", 11),
        ([request("event", id=12, name="no_such_event")], "unknown_event", 12),
        ([request("event", id=13, name="danger_level", params={"danger": "high"})], "bad_request", 13),
        ([request("set_mood", id=14, text="calm", transition={"quantize": "whenever"})], "bad_request", 14),
    ],
)
def test_bad_requests_get_an_error_reply(server, frames, code, id):
    socket = raw_dealer(server)
    try:
        reply = exchange(socket, *frames)
        assert reply["ok"] is False and reply["id"] == id and reply["error"]["code"] == code
        assert reply["error"]["message"]
        assert exchange(socket, request("status", id=99))["ok"] is True
    finally:
        socket.close()


def test_oversized_frame_drops_the_connection_and_the_client_recovers(server):
    socket = raw_dealer(server)
    try:
        socket.send(request("set_mood", id=1, text="x" * 70_000))
        assert not socket.poll(500), "a frame over ZMQ_MAXMSGSIZE must not be answered"
        # The DEALER reconnects by itself; requests go through again.
        deadline = time.monotonic() + 5
        while True:
            socket.send(request("status", id=2))
            if socket.poll(300):
                assert msgpack.unpackb(socket.recv())["id"] == 2
                break
            assert time.monotonic() < deadline, "no reply after reconnecting"
    finally:
        socket.close()


def test_per_client_rate_limit(soundtrack):
    with serve(soundtrack, limits=Limits(requests_per_second=20, request_burst=10)) as server:
        greedy, polite = raw_dealer(server), raw_dealer(server)
        try:
            for i in range(40):
                greedy.send(request("status", id=i))
            codes = []
            for _ in range(40):
                assert greedy.poll(5000)
                reply = msgpack.unpackb(greedy.recv())
                codes.append("ok" if reply["ok"] else reply["error"]["code"])
            assert codes.count("rate_limited") >= 25 and set(codes) == {"ok", "rate_limited"}
            assert exchange(polite, request("status"))["ok"] is True  # other clients are not limited
            assert server.stats.rate_limited == codes.count("rate_limited")
        finally:
            greedy.close()
            polite.close()


def test_stingers_are_rate_limited_and_a_refused_event_changes_nothing(client):
    client.set_intensity(0.5)
    codes = []
    for _ in range(12):
        try:
            client.stinger("item")
            codes.append("ok")
        except BridgeError as exc:
            codes.append(exc.code)
    assert "rate_limited" in codes and codes[0] == "ok"
    with pytest.raises(BridgeError) as info:
        client.event("boss_defeated")  # sets intensity 0.6 and plays a stinger
    assert info.value.code == "rate_limited"
    time.sleep(0.2)
    assert client.status()["intensity"] == pytest.approx(0.5)


def test_mood_flood_is_coalesced_and_the_latest_wins(client, server):
    for i in range(300):
        client.set_mood(f"flood mood number {i}", ramp=0)
    assert server.stats.moods_coalesced > 200
    assert server.stats.moods_applied < 100
    assert wait_for(lambda: "flood mood number 299" in str(client.status()["mood"]))


def test_intensity_flood_is_coalesced_and_the_latest_wins(client):
    for i in range(500):
        client.set_intensity(i / 1000)
    assert wait_for(lambda: client.status()["intensity"] == pytest.approx(0.499))


def test_a_refused_queued_mood_is_reported_on_the_error_topic(client):
    with client.subscribe("error") as errors:
        time.sleep(0.3)  # let the subscription connect
        assert client.set_mood("combat")["queued"] is False
        assert client.set_mood("xqzv wlkj")["queued"] is True  # checked when its turn comes
        error = errors.recv(3)
    assert error is not None and error.data["code"] == "bad_request" and "xqzv wlkj" in error.data["message"]
    with pytest.raises(BridgeError) as info:  # applied at once, the same text is refused in the reply
        time.sleep(0.2)
        client.set_mood("xqzv wlkj")
    assert info.value.code == "bad_request"


# Clients coming and going --------------------------------------------------------


def test_client_disconnects_and_reconnects(server):
    first = Client(server.commands_endpoint, server.events_endpoint)
    first.set_intensity(0.7)
    first.close()
    with Client(server.commands_endpoint, server.events_endpoint) as again:
        assert wait_for(lambda: again.status()["intensity"] == pytest.approx(0.7))


def test_a_client_that_never_reads_replies_does_not_block_others(server):
    deaf = raw_dealer(server)
    deaf.sndtimeo = 5000
    try:
        for i in range(3000):
            deaf.send(request("status", id=i))
        with Client(server.commands_endpoint, server.events_endpoint) as other:
            assert other.status()["ok"]
    finally:
        deaf.close()


def test_a_timed_out_request_does_not_confuse_the_next(client, server):
    client.pause()
    with pytest.raises(TimeoutError):
        client.request("status", timeout=0.0)
    assert client.resume()["ok"]  # the late status reply is skipped by id
    assert client.status()["paused"] is False


def test_two_clients_at_once(server):
    results: dict[str, list] = {"a": [], "b": []}

    def drive(name, value):
        with Client(server.commands_endpoint, server.events_endpoint, timeout=5) as c:
            for _ in range(300):
                results[name].append(c.set_intensity(value)["value"])
                results[name].append(c.status()["ok"])

    threads = [threading.Thread(target=drive, args=("a", 0.25)), threading.Thread(target=drive, args=("b", 0.75))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"] == [0.25, True] * 300 and results["b"] == [0.75, True] * 300


# Events ---------------------------------------------------------------------------


def test_beat_bar_mood_and_status_events(client, server):
    with client.subscribe() as events:
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + 6
        mood_sent = False
        while time.monotonic() < deadline and not {"beat", "bar", "mood", "status"} <= set(seen):
            if not mood_sent and "status" in seen:
                client.set_mood("victory", quantize="beat", ramp=0.5)
                mood_sent = True
            event = events.recv(0.5)
            if event is not None:
                seen.setdefault(event.topic, event.data)
    assert {"beat", "bar", "mood", "status"} <= set(seen)
    assert isinstance(seen["beat"]["bar"], int) and isinstance(seen["beat"]["beat"], int)
    assert seen["bar"]["beat"] == 0
    assert seen["mood"]["phase"] == "start" and seen["mood"]["text"] == MOODS.moods["victory"]
    assert set(seen["mood"]) == {"phase", "text", "intensity", "sample", "seconds"}
    assert "intensity" in seen["status"]


def _until_end(events, timeout=8.0) -> list[tuple[float, object]]:
    """Events received (with when) up to and including the next mood ``end``."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (got and got[-1][1].data.get("phase") == "end"):
        event = events.recv(0.5)
        if event is not None:
            got.append((time.monotonic(), event))
    return got


def test_mood_events_come_as_the_change_is_heard_start_then_end(client, server):
    rate = client.hello()["sample_rate"]
    with client.subscribe("bar", "mood") as events:
        assert events.recv(5) is not None  # subscribed: nothing sent from here on is lost
        client.set_mood("victory", quantize="bar", ramp=1.0)
        got = _until_end(events)
        bars = {e.data["sample"] for _, e in got if e.topic == "bar"}
        moods = [(at, e.data) for at, e in got if e.topic == "mood"]
        assert [m["phase"] for _, m in moods] == ["start", "end"]
        (started, start), (ended, end) = moods
        assert start["text"] == end["text"] == MOODS.moods["victory"]
        assert start["sample"] in bars  # quantized to a bar, and sent as that bar is heard
        assert end["sample"] - start["sample"] == pytest.approx(rate, abs=rate // 100)  # the 1 s ramp
        assert end["seconds"] == pytest.approx(end["sample"] / rate)
        assert ended - started == pytest.approx(1.0, abs=0.1)  # the sink's clock paces them

        # Without a ramp: both at one sample, start first.
        client.set_mood("combat", quantize="now", ramp=0)
        pair = [e.data for _, e in _until_end(events) if e.topic == "mood"]
        assert [m["phase"] for m in pair] == ["start", "end"] and pair[0]["sample"] == pair[1]["sample"]
        assert pair[0]["text"] == MOODS.moods["combat"] and pair[0]["sample"] > end["sample"]

        # An intensity change is a transition too, with the mood text unchanged.
        client.set_param("intensity", 0.9)
        pair = [e.data for _, e in _until_end(events) if e.topic == "mood"]
    assert [(m["phase"], m["text"], m["intensity"]) for m in pair] == [
        ("start", MOODS.moods["combat"], 0.9), ("end", MOODS.moods["combat"], 0.9)]


def test_topic_filter_and_async_and_callback_subscriptions(client):
    async def first_two_beats():
        async with client.subscribe_async("beat") as events:
            return [await asyncio.wait_for(events.__anext__(), 5) for _ in range(2)]

    beats = asyncio.run(first_two_beats())
    assert [e.topic for e in beats] == ["beat", "beat"]

    got = []
    with client.listen(got.append, "bar"):
        assert wait_for(lambda: len(got) >= 1, timeout=6)
    assert all(e.topic == "bar" for e in got)


# Security ---------------------------------------------------------------------------


def test_curve_admits_known_clients_only(soundtrack, tmp_path):
    generate_keys(tmp_path / "keys", ("game",))
    generate_keys(tmp_path / "other", ("stranger",))
    with serve(soundtrack, curve=ServerKeys.load(tmp_path / "keys")) as server:
        keys = ClientKeys.load(tmp_path / "keys", "game")
        with Client(server.commands_endpoint, server.events_endpoint, curve=keys, timeout=5) as game:
            assert game.status()["ok"]
            with game.subscribe("status") as events:
                assert events.recv(3) is not None
        with Client(server.commands_endpoint, server.events_endpoint, timeout=0.5) as plain:
            with pytest.raises(TimeoutError):
                plain.status()
        stranger = ClientKeys.load(tmp_path / "other", "stranger")
        wrong = ClientKeys(stranger.public, stranger.secret, keys.server)
        with Client(server.commands_endpoint, server.events_endpoint, curve=wrong, timeout=0.5) as intruder:
            with pytest.raises(TimeoutError):
                intruder.status()


def test_non_loopback_bind_without_curve_warns(soundtrack, caplog):
    with caplog.at_level(logging.WARNING, logger="adaptive_music.bridge.server"):
        with Server(soundtrack, commands="tcp://0.0.0.0:*", events=ANY_PORT):
            pass
    assert "without CURVE" in caplog.text
    assert is_local("tcp://127.0.0.1:5555") and is_local("tcp://[::1]:5555") and is_local("ipc:///tmp/x")
    assert not is_local("tcp://*:5555") and not is_local("tcp://192.168.1.5:5555")


def test_bind_error_is_raised_by_start(soundtrack, server):
    with pytest.raises(OSError, match="cannot bind"):
        Server(soundtrack, commands=server.commands_endpoint, events=ANY_PORT).start()


def test_run_serves_in_the_calling_thread_until_stopped(soundtrack):
    server = serve(soundtrack)
    thread = threading.Thread(target=server.run)
    thread.start()
    assert wait_for(lambda: server.commands_endpoint is not None)
    with Client(server.commands_endpoint, server.events_endpoint, timeout=5) as client:
        assert client.status()["ok"]
    server.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_replace_moods_while_a_client_sends_events(server, client):
    """Requests keep being answered, by the old map or the new one, while the map is swapped."""
    from adaptive_music.mood.maps import parse_mood_map

    old = server.moods
    new = parse_mood_map(EXAMPLE.read_text().replace("[events.player_hit]", "[events.player_stung]"), "edited.toml")
    answers = []

    done = threading.Event()

    def send_events():
        with Client(server.commands_endpoint, server.events_endpoint, timeout=5) as sender:
            while not done.is_set():
                for name in ("player_hit", "player_stung"):
                    try:
                        sender.event(name)
                        answers.append(name)
                    except BridgeError as exc:
                        answers.append(exc.code)

    sender = threading.Thread(target=send_events)
    sender.start()
    for moods in (new, old, new, new):
        seen = len(answers)
        assert wait_for(lambda: len(answers) > seen + 4)  # requests go on between swaps
        server.replace_moods(moods)
    done.set()
    sender.join(20)
    assert set(answers) <= {"player_hit", "player_stung", "unknown_event"}
    assert "player_hit" in answers and "player_stung" in answers
    assert server.moods is new
    assert "player_stung" in client.hello()["events"] and "player_hit" not in client.hello()["events"]
    with pytest.raises(TypeError):
        server.replace_moods({"events": {}})
    assert client.status()["error"] is None
