"""The C# client core (bridge/dotnet), compiled with mcs and run under mono against a real `serve`."""

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
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
    assert seen["dispose_ms"] < 50 and 0 <= seen["threads_end_ms"] < 500  # no thread outlives the session
    events_seen = seen["events"]
    assert seen["counts"]["beat"] >= 2 and seen["counts"]["bar"] >= 1 and seen["counts"]["status"] >= 1
    assert events_seen["bar"]["beat"] == 0 and events_seen["bar"]["sample"] >= 0  # the first bar is at 0
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


def test_csharp_client_refuses_a_curve_server_saying_it_speaks_null_only(harness, tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([sys.executable, "-m", "adaptive_music.cli.main", "keygen", str(keys)], cwd=ROOT, check=True,
                   capture_output=True, timeout=60)
    with served("--no-audio", "--curve-keys", str(keys)) as (process, commands, events):
        seen = run_harness(harness, "unreachable", commands)
    assert seen["code"] == "unavailable"
    assert "uses the CURVE security mechanism; this client speaks NULL only" in seen["message"]


def _fake_server(answer):
    """A real ROUTER on loopback; ``answer(request)`` gives (delay in seconds, reply map without id)."""
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def serve():
        due = []  # (time, identity, reply bytes)
        while not done.is_set():
            if router.poll(10):
                identity, frame = router.recv_multipart()
                request = msgpack.unpackb(frame)
                delay, reply = answer(request)
                due.append((time.monotonic() + delay, identity, msgpack.packb({**reply, "id": request.get("id")})))
            for item in [d for d in due if d[0] <= time.monotonic()]:
                due.remove(item)
                router.send_multipart(item[1:])
        router.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"tcp://127.0.0.1:{port}", done, thread


@pytest.mark.parametrize("reply", [
    {"v": 1, "ok": True, "server": "adaptive-music", "protocol": 2},
    {"v": 2, "ok": False, "error": {"code": "bad_version", "message": "this server speaks protocol 2"}},
], ids=["hello says 2", "bad_version reply"])
def test_csharp_client_names_both_versions_on_a_protocol_mismatch(harness, reply):
    address, done, thread = _fake_server(lambda request: (0, reply))
    try:
        seen = run_harness(harness, "mismatch", address)
    finally:
        done.set()
        thread.join(5)
    assert seen["state"] == "VersionMismatch" and seen["call_error"] == "version_mismatch"
    assert "server speaks bridge protocol 2, this client speaks protocol 1." in seen["message"]


def test_csharp_request_times_out_and_a_late_reply_does_not_wedge_the_client(harness):
    hello = {"v": 1, "ok": True, "server": "adaptive-music", "protocol": 1}
    address, done, thread = _fake_server(lambda request: (0.6 if request["type"] == "status" else 0, hello))
    try:
        seen = run_harness(harness, "timeout", address)
    finally:
        done.set()
        thread.join(5)
    assert seen["code"] == "timeout" and 290 <= seen["timeout_ms"] < 600
    assert seen["stray_replies"] == 1 and seen["hello_after"] == 1


def through_a_restart(harness: Path, mode: str, *serve_args: str) -> dict:
    """Run harness ``mode`` while `serve` stops and starts again on the same ports; its JSON.

    The harness prints "ready" when it wants the restart and reads "restarted" once the
    new server listens.
    """
    ports = ["--commands", f"tcp://127.0.0.1:{free_port()}", "--events", f"tcp://127.0.0.1:{free_port()}"]
    with served(*serve_args, *ports) as (first, commands, events):
        client = subprocess.Popen(["mono", str(harness), mode, commands, events], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert client.stdout.readline().strip() == "ready", client.stderr.read()
            stop(first, signal.SIGTERM)
            time.sleep(0.5)  # the client sees the loss and backs off
            with served(*serve_args, *ports) as (second, *_):
                client.stdin.write("restarted\n")
                client.stdin.flush()
                out, err = client.communicate(timeout=60)
                stop(second, signal.SIGTERM)
        finally:
            if client.poll() is None:
                client.kill()
    assert client.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def test_csharp_client_survives_a_server_restart_and_restores_the_game_state(harness):
    seen = through_a_restart(harness, "restart", "--no-audio")
    # The new server plays its default mood; the session sent the game's own again.
    assert seen["status"]["mood"] == "tense stealth, muted strings" and seen["status"]["intensity"] == 0.8
    assert 0 <= seen["reconnect_ms"] <= seen["restored_ms"] < 1000, seen
    commands_changes = [(c["connected"]) for c in seen["connections"] if c["channel"] == "commands"]
    assert commands_changes[-2:] == [False, True], seen["connections"]


def test_csharp_engine_audio_pulls_the_servers_stream_contiguously_and_exactly(harness, tmp_path):
    """An engine clock reads 1024 frames every 21.3 ms through EngineAudio.Read for 4 s."""
    from adaptive_music.bridge import Client, EngineStream

    raw = tmp_path / "pulled.raw"
    with served("--output", "engine") as (process, commands, events):
        seen = run_harness(harness, "audio", commands, events, "4", str(raw))
        code, _, log = stop(process, signal.SIGTERM)
    assert code == 0, log
    assert seen["state"] == "Streaming" and seen["hello_output"] == "engine"
    pulled = np.fromfile(raw, "<f4").reshape(-1, 2)
    # Every frame the engine read is the stream, in order, from position 0: nothing lost or repeated.
    assert seen["first_position"] == 0 and seen["discontinuities"] == 0
    assert len(pulled) == seen["position"] == seen["callbacks"] * 1024 - seen["underrun_frames"]
    # The server counts the pull that was in flight when the engine stopped, if there was one.
    assert seen["status"]["output"] == "engine" and seen["status"]["position"] - seen["pulls"] * 1024 in (0, 1024)
    assert seen["status"]["underruns"] == 0
    # The same frames as the Python reference client pulls from a fresh server with the same seed.
    # A reference that caught its generator behind (an underrun, faded to silence) cannot be
    # compared: pull it again (that happens on this shared 2-core machine when it is busy).
    for _ in range(3):
        with served("--output", "engine") as (process, commands, events):
            with EngineStream(commands, 48000) as stream, Client(commands) as client:
                reference = np.concatenate([stream.pull(1024)[1] for _ in range(-(-len(pulled) // 1024))])
                if client.status()["underruns"] == 0:
                    break
    reference = reference[: len(pulled)]
    differ = np.flatnonzero(np.any(pulled != reference, axis=1))
    assert differ.size == 0, f"first differing frame {differ[0]} of {len(pulled)}; {seen}"
    assert np.abs(pulled).max() > 0.05
    # Beat events reached the main thread only once the engine had read their sample.
    assert len(seen["beats"]) >= 4 and seen["beats_before_played"] == []
    assert seen["beats"] == sorted(seen["beats"]) and seen["beats"][-1] < seen["position"]
    assert seen["read_allocated_bytes"] == 0  # the audio callback allocates nothing
    assert seen["stop_ms"] < 50 and 0 <= seen["threads_end_ms"] < 500


def test_csharp_engine_audio_counts_underruns_through_a_server_restart_and_resumes(harness):
    seen = through_a_restart(harness, "audio-restart", "--output", "engine")
    # While the server was gone the engine's reads were silence, counted; nothing crashed.
    assert seen["underruns_at_restart"] > 10 and any("Connecting" in e or "Failed" in e for e in seen["outage"])
    # The new server's stream was followed (one jump in positions) and plays on.
    assert seen["state"] == "Streaming" and seen["discontinuities"] == 1
    # Reads go on for 3 s after the new server listens: back-off, connect, hello, audio_open, then music.
    assert seen["position"] > 48000 and seen["underruns_after_restart"] * 1024 < 2 * 48000
    assert seen["beats_after_restart"] >= 1 and seen["beats_before_played"] == []
    # A 5.1 engine through ReadInterleaved: music on the front pair, silence elsewhere, no allocation.
    peaks = seen["last_read_peak_by_channel"]
    assert min(peaks[:2]) > 0.01 and max(peaks[2:]) == 0 and seen["read_allocated_bytes"] == 0
    # The game's mood went to the new server by itself.
    assert seen["status"]["mood"] == "tense stealth, muted strings" and seen["status"]["output"] == "engine"


def test_csharp_engine_audio_says_how_to_start_the_server_when_it_plays_on_its_own(harness, tmp_path):
    with served("--no-audio") as (process, commands, events):
        seen = run_harness(harness, "audio", commands, events, "1", str(tmp_path / "none.raw"))
    assert seen["state"] == "NotEngineMode"
    assert "serve --output engine" in seen["error"] and "file" in seen["error"]


# The Unity package ----------------------------------------------------------------------

UNITY = ROOT / "bridge" / "unity"


def test_unity_and_core_packages_are_valid_upm_packages_with_meta_files():
    for package in (UNITY, DOTNET):
        manifest = json.loads((package / "package.json").read_text())
        assert re.fullmatch(r"com\.[a-z0-9-]+\.[a-z0-9.-]+", manifest["name"]), manifest["name"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"]) and manifest["displayName"]
        assert re.fullmatch(r"\d{4}\.\d", manifest["unity"])
        for sample in manifest.get("samples", []):
            assert (package / sample["path"]).is_dir() and sample["path"].startswith("Samples~/")
    assert [p.name for p in (DOTNET / "Runtime").glob("*.asmdef")] == ["AdaptiveMusic.Bridge.asmdef"]
    core = json.loads((DOTNET / "Runtime" / "AdaptiveMusic.Bridge.asmdef").read_text())
    assert core["noEngineReferences"] is True  # the core uses nothing of Unity
    # One asmdef at the root of Runtime/: it covers every subfolder (Runtime/Stems too).
    assert [p.relative_to(UNITY).as_posix() for p in UNITY.rglob("*.asmdef")] == ["Runtime/AdaptiveMusic.Unity.asmdef"]
    unity = json.loads((UNITY / "Runtime" / "AdaptiveMusic.Unity.asmdef").read_text())
    assert unity["references"] == [core["name"]]
    for name in ("README.md", "CHANGELOG.md", "LICENSE"):
        assert (UNITY / name).is_file(), name
    # Unity ignores assets without a .meta in a package installed from git.
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "unity_meta.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    guids = [line.split()[1] for meta in ROOT.joinpath("bridge").rglob("*.meta")
             for line in meta.read_text().splitlines() if line.startswith("guid:")]
    assert len(guids) == len(set(guids)) > 10


def test_unity_scripts_type_check_against_unityengine_stubs(harness):
    """A compile check only: mcs against a stub of the UnityEngine types used, not a run in Unity.

    The package's scripts, its sample and the README's Unity example.
    """
    out = harness.parent
    stubs = out / "UnityEngine.dll"
    common = ["mcs", "-langversion:7.2", "-nologo", "-target:library"]
    subprocess.run([*common, f"-out:{stubs}", str(ROOT / "tests" / "unity_stubs" / "UnityEngine.cs")], check=True)
    # bridge/README.md's 10-line example, as a user would paste it.
    readme = (ROOT / "bridge" / "README.md").read_text()
    example = re.search(r"### A 10-line example.*?```csharp\n(.*?)```", readme, re.S).group(1)
    (out / "ReadmeExample.cs").write_text(example)
    scripts = sorted(str(p) for p in (UNITY / "Runtime").rglob("*.cs")) + \
        sorted(str(p) for p in (UNITY / "Samples~").rglob("*.cs")) + [str(out / "ReadmeExample.cs")]
    result = subprocess.run([*common, "-warnaserror+", f"-out:{out / 'AdaptiveMusic.Unity.dll'}", f"-r:{stubs}",
                             f"-r:{out / 'AdaptiveMusic.Bridge.dll'}", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
