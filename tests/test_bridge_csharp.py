"""The C# client core (bridge/dotnet), compiled with mcs and run under mono against a real `serve`."""

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from test_bridge_serve import served, stop

ROOT = Path(__file__).resolve().parents[1]
DOTNET = ROOT / "bridge" / "dotnet"


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    """bridge/dotnet compiled by its build script: the core library and the console harness."""
    assert shutil.which("mcs") and shutil.which("mono"), "mono-mcs and mono-runtime are needed (scripts/install-test-deps.sh)"
    out = tmp_path_factory.mktemp("dotnet")
    result = subprocess.run(["bash", str(DOTNET / "build.sh"), str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "harness.exe"


def run_harness(harness: Path, *args: str, timeout: float = 60) -> dict:
    result = subprocess.run(["mono", str(harness), *args], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_csharp_codec_and_zmtp_bytes_match_the_shared_test_vectors(harness):
    seen = run_harness(harness, "vectors", str(ROOT / "bridge" / "testvectors"))
    vectors = json.loads((ROOT / "bridge" / "testvectors" / "msgpack.json").read_text())["vectors"]
    assert seen["msgpack"]["failures"] == []
    assert seen["msgpack"]["decoded"] == len(vectors)
    assert seen["msgpack"]["encoded"] == sum(v["canonical"] for v in vectors)
    assert seen["zmtp"]["failures"] == []
    # Everything a ZMTP 3.0 DEALER or SUB sends is checked; what it never sends is listed.
    checked = set(seen["zmtp"]["checked"])
    assert {"greeting client NULL 3.0", "READY DEALER empty Identity", "READY SUB", "subscribe 3.0 beat",
            "subscribe 3.0 everything", "frame long more 300 bytes", "event message beat"} <= checked
    assert set(seen["zmtp"]["skipped"]) == {"greeting libzmq 4.3 DEALER", "greeting libzmq 4.3 DEALER identity abc",
                                            "cancel 3.0 beat", "subscribe 3.1 command beat"}


def test_csharp_client_drives_every_request_and_receives_events(harness):
    with served("--no-audio") as (process, commands, events):
        seen = run_harness(harness, "session", commands, events)
        code, _, log = stop(process, signal.SIGTERM)
    assert code == 0, log
    replies = seen["replies"]
    assert seen["typed"]["protocol"] == 1 and seen["typed"]["backend"] == "procedural"
    for kind in ("set_mood", "event", "set_param", "stinger", "pause", "resume", "status"):
        assert replies[kind]["ok"] is True, kind
    assert replies["paused_status"]["paused"] is True and seen["typed"]["paused"] is False
    assert replies["set_param"]["value"] == 0.25 and seen["typed"]["intensity"] == 0.25
    assert replies["event_action"], "the first event of the shipped map did something"
    assert seen["typed"]["queued"] is False
    assert seen["pipelined"] == 200, "every pipelined reply matched its own request"
    assert seen["errors"] == {"unknown_type": "unknown_type", "nan": "bad_request", "out_of_range": "bad_request",
                              "missing_field": "bad_request", "unknown_event": "unknown_event",
                              "too_large": "too_large", "malformed": "bad_request"}
    assert seen["status_after_errors"] is True and seen["stray_replies"] == 0
    events_seen = seen["events"]
    assert seen["counts"]["beat"] >= 2 and seen["counts"]["bar"] >= 1 and seen["counts"]["status"] >= 1
    assert events_seen["bar"]["beat"] == 0 and events_seen["bar"]["sample"] > 0
    assert {"bar", "beat", "beats_per_bar", "bpm", "sample", "seconds"} <= set(events_seen["beat"])
    assert "intensity" in events_seen["status"]
    mine = {m["phase"]: m for m in events_seen["mood"] if m["text"] == "tense stealth, muted strings"}
    assert set(mine) == {"start", "end"}, events_seen["mood"]
    assert mine["end"]["seconds"] - mine["start"]["seconds"] == pytest.approx(0.5, abs=0.01)
    # The fire-and-forget event that failed reached the main thread as an Error callback.
    assert any(e["code"] == "unknown_event" and "no_such_event_either" in e["message"] for e in events_seen["error"])


def test_csharp_client_fails_fast_and_disposes_at_once_when_the_server_is_unreachable(harness):
    seen = run_harness(harness, "unreachable", f"tcp://127.0.0.1:{free_port()}")
    assert seen["code"] == "unavailable"
    assert "connection refused" in seen["message"] and "reconnecting in the background" in seen["message"]
    assert seen["fail_ms"] < 50 and seen["dispose_ms"] < 50
    assert seen["state"] == "Closed"


def _fake_server(reply: dict):
    """A real ROUTER on loopback that answers every request with ``reply`` (plus its id)."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def answer():
        while not done.is_set():
            if router.poll(50):
                identity, frame = router.recv_multipart()
                request = msgpack.unpackb(frame)
                router.send_multipart([identity, msgpack.packb({**reply, "id": request.get("id")})])
        router.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return f"tcp://127.0.0.1:{port}", done, thread


@pytest.mark.parametrize("reply", [
    {"v": 1, "ok": True, "server": "adaptive-music", "protocol": 2},
    {"v": 2, "ok": False, "error": {"code": "bad_version", "message": "this server speaks protocol 2"}},
], ids=["hello says 2", "bad_version reply"])
def test_csharp_client_names_both_versions_on_a_protocol_mismatch(harness, reply):
    address, done, thread = _fake_server(reply)
    try:
        seen = run_harness(harness, "mismatch", address)
    finally:
        done.set()
        thread.join(5)
    assert seen["state"] == "VersionMismatch" and seen["call_error"] == "version_mismatch"
    assert "server speaks bridge protocol 2, this client speaks protocol 1." in seen["message"]


def test_csharp_client_survives_a_server_restart_and_restores_the_game_state(harness):
    ports = ["--commands", f"tcp://127.0.0.1:{free_port()}", "--events", f"tcp://127.0.0.1:{free_port()}"]
    with served("--no-audio", *ports) as (first, commands, events):
        client = subprocess.Popen(["mono", str(harness), "restart", commands, events], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert client.stdout.readline().strip() == "ready", client.stderr.read()
            stop(first, signal.SIGTERM)
            time.sleep(0.5)  # the client sees the loss and backs off
            with served("--no-audio", *ports) as (second, *_):
                client.stdin.write("restarted\n")
                client.stdin.flush()
                out, err = client.communicate(timeout=60)
                stop(second, signal.SIGTERM)
        finally:
            if client.poll() is None:
                client.kill()
    assert client.returncode == 0, err
    seen = json.loads(out.splitlines()[-1])
    # The new server plays its default mood; the session sent the game's own again.
    assert seen["status"]["mood"] == "tense stealth, muted strings" and seen["status"]["intensity"] == 0.8
    assert 0 <= seen["reconnect_ms"] <= seen["restored_ms"] < 1000, seen
    commands_changes = [(c["connected"]) for c in seen["connections"] if c["channel"] == "commands"]
    assert commands_changes[-2:] == [False, True], seen["connections"]
