"""`adaptive-music serve` as a process: recording, signals, CURVE keys, a Node.js client, fuzzing."""

import collections
import contextlib
import json
import math
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

from adaptive_music.audio.wav import read_wav
from adaptive_music.bridge import Client, ClientKeys

ROOT = Path(__file__).resolve().parents[1]
NODE_CLIENT = ROOT / "bridge" / "node"
SERVE = [sys.executable, "-m", "adaptive_music.cli.main"]
ANY_PORTS = ["--commands", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*"]


@contextlib.contextmanager
def served(*args: str):
    """Run `serve` with ``args``; yield (process, commands address, events address).

    Its log goes to a file, not a pipe: a pipe nobody reads could fill and stall it.
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(SERVE + ["serve", *ANY_PORTS, *args], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=log, text=True)
        process.log = log
        try:
            line = process.stdout.readline()
            found = re.search(r"commands on (\S+) events on (\S+)", line)
            assert found, f"serve did not start: {line!r} {process.wait(10) and _log(process)}"
            yield process, found.group(1), found.group(2)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _log(process) -> str:
    process.log.seek(0)
    return process.log.read()


def stop(process, signum):
    """Send ``signum``; return the exit code, stdout and the log."""
    process.send_signal(signum)
    out, _ = process.communicate(timeout=20)
    return process.returncode, out, _log(process)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_records_and_shuts_down_cleanly_on_signal(tmp_path, signum):
    out = tmp_path / "out.wav"
    with served("--no-audio", "--record", str(out)) as (process, commands, events):
        with Client(commands, events, timeout=10) as client:
            client.set_mood("boss", quantize="now")
            client.event("player_hit")
            playhead = client.status()["playhead"]
            time.sleep(1.0)
            assert client.status()["playhead"] >= playhead + 0.5  # clocked: plays in real time
        code, stdout, stderr = stop(process, signum)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout
    audio, rate = read_wav(out)  # finalised: complete and readable
    assert len(audio) / rate >= 1.0


def test_serve_rejects_a_bad_mood_map_naming_the_line(tmp_path):
    moods = tmp_path / "moods.toml"
    moods.write_text('[events.boss_phase_2]\nmood = "epic"\nramp = "slow"\n')
    result = subprocess.run(SERVE + ["serve", "--no-audio", "--moods", str(moods)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{moods}:3: [events.boss_phase_2] ramp: must be a number of seconds" in result.stderr


def test_keygen_and_serve_with_curve(tmp_path):
    keys = tmp_path / "keys"
    result = subprocess.run(SERVE + ["keygen", str(keys), "--client", "game"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (keys / "server.key").is_file() and (keys / "clients" / "game.key_secret").is_file()
    assert (keys / "clients" / "game.key_secret").stat().st_mode & 0o077 == 0
    with served("--no-audio", "--curve-keys", str(keys)) as (process, commands, events):
        with Client(commands, events, curve=ClientKeys.load(keys, "game"), timeout=10) as client:
            assert client.hello()["protocol"] == 1
        with Client(commands, events, timeout=0.5) as plain:
            with pytest.raises(TimeoutError):
                plain.status()
        code, _, stderr = stop(process, signal.SIGTERM)
    assert code == 0, stderr


def _node_modules() -> None:
    """Install the Node client's locked dependencies (once)."""
    if (NODE_CLIENT / "node_modules" / "zeromq").is_dir():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed for the cross-language test"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_CLIENT, check=True, timeout=300)


def test_node_client_written_from_the_protocol_drives_the_server():
    node = shutil.which("node")
    assert node, "node is needed for the cross-language test"
    _node_modules()
    # The client fires a new mood, an event, a stinger and a pause within milliseconds of the
    # server's start; 200 ms ahead keeps a loaded CI machine from turning that burst into an
    # underrun (bench/sampled_live.py measures underruns at play's 50 ms).
    with served("--no-audio", "--ahead", "0.2") as (process, commands, events):
        result = subprocess.run([node, "check.mjs", commands, events], cwd=NODE_CLIENT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        with Client(commands, events) as client:
            deadline = time.monotonic() + 5
            while (status := client.status())["intensity"] != 0.25 and time.monotonic() < deadline:
                time.sleep(0.05)
        code, _, stderr = stop(process, signal.SIGTERM)
    assert code == 0, stderr
    replies = seen["replies"]
    assert replies["hello"]["protocol"] == 1 and replies["hello"]["backend"] == "procedural"
    for kind in ("set_mood", "event", "set_param", "stinger", "pause", "resume", "status", "status_after"):
        assert replies[kind]["ok"] is True, kind
    assert replies["set_param"]["value"] == 0.25 and 0 <= replies["status"]["intensity"] <= 1
    assert replies["event"]["action"]  # the first event of the shipped map did something
    assert seen["errors"] == {
        "unknown_type": "unknown_type", "bad_version": "bad_version", "nan": "bad_request",
        "out_of_range": "bad_request", "missing_field": "bad_request", "wrong_type": "bad_request",
        "unknown_event": "unknown_event", "too_large": "too_large", "malformed": "bad_request",
    }
    assert "intensity" in seen["events"]["status"]
    # The set_mood's change (ramp 0.5 s) as heard: a start, then an end half a second of stream later.
    # The set_param's pair has the same text and may fall inside that ramp: the set_mood's end
    # is the first one with its start's intensity.
    ours = [m for m in seen["events"]["mood"] if m["text"] == "tense stealth, muted strings"]
    start = next((m for m in ours if m["phase"] == "start"), None)
    assert start is not None, seen["events"]["mood"]
    end = next((m for m in ours if m["phase"] == "end" and m["intensity"] == start["intensity"]), None)
    assert end is not None, seen["events"]["mood"]
    moods = {"start": start, "end": end}
    assert moods["end"]["seconds"] - moods["start"]["seconds"] == pytest.approx(0.5, abs=0.01)
    assert moods["end"]["sample"] > moods["start"]["sample"] and 0 <= moods["start"]["intensity"] <= 1
    assert status["intensity"] == 0.25 and status["underruns"] == 0, (status, stderr)


# Fuzzing ------------------------------------------------------------------------------

_TYPES = ["hello", "set_mood", "event", "set_param", "stinger", "status", "resume"]  # not pause: silence is its job
_JUNK = [None, True, -1, 0, 2**64 - 1, 1.5, math.nan, math.inf, -math.inf, "", "x" * 2000, "\U0001f3b5" * 50,
         b"\x00\xff", [], [1, [2, [3]]], {}, {"a": {"b": None}}, "teleport", "pause "]


def _valid_fields(rng: random.Random, kind: str) -> dict:
    return {
        "set_mood": lambda: {"text": rng.choice(["combat", "calm strings", "dark dungeon drones", "boss"]),
                             "transition": {"quantize": rng.choice(["now", "beat", "bar"]), "ramp": rng.uniform(0, 3)}},
        "event": lambda: {"name": rng.choice(["player_hit", "item_found", "enter_dungeon", "combat_end"]),
                          "params": {"danger": rng.random()}},
        "set_param": lambda: {"name": "intensity", "value": rng.random()},
        "stinger": lambda: {"name": rng.choice(["item", "danger", "bright bells"])},
    }.get(kind, dict)()


def _fuzz_message(rng: random.Random) -> bytes:
    """A valid request with 0 to 3 random mutations: junk values, lost or extra keys, bad bytes."""
    kind = rng.choice(_TYPES)
    msg = {"v": 1, "id": rng.randrange(2**32), "type": kind, **_valid_fields(rng, kind)}
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        mutation = rng.randrange(6)
        if mutation == 0:  # a field gets a junk value
            msg[rng.choice(sorted(msg) + ["text", "name", "value", "params", "transition"])] = rng.choice(_JUNK)
        elif mutation == 1 and msg:  # a field goes missing
            del msg[rng.choice(sorted(msg))]
        elif mutation == 2:  # an unknown field (ignored)
            msg[f"extra{rng.randrange(9)}"] = rng.choice(_JUNK)
        elif mutation == 3:  # junk inside a nested map
            if isinstance(msg.get("transition"), dict):
                msg["transition"][rng.choice(["quantize", "ramp"])] = rng.choice(_JUNK)
            elif isinstance(msg.get("params"), dict):
                msg["params"]["danger"] = rng.choice(_JUNK)
        elif mutation == 4:  # the whole message is something else
            return msgpack.packb(rng.choice(_JUNK), use_bin_type=True)
        else:  # raw bytes: flipped, truncated or random
            data = bytearray(msgpack.packb(msg, use_bin_type=True))
            how = rng.randrange(3)
            if how == 0:
                for _ in range(rng.randrange(1, 4)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            elif how == 1:
                del data[rng.randrange(len(data)):]
            else:
                data = bytearray(rng.randbytes(rng.randrange(64)))
            return bytes(data)
    return msgpack.packb(msg, use_bin_type=True)


def test_fuzz_ten_thousand_messages_keep_server_and_music_alive(tmp_path):
    out = tmp_path / "fuzz.wav"
    rng = random.Random(20240601)
    codes: collections.Counter = collections.Counter()
    # 0.2 s ahead: on a 2-core machine this test's own sending competes with the
    # generator for the CPU (bench/bridge.py measures smaller values).
    with served("--no-audio", "--record", str(out), "--ahead", "0.2") as (process, commands, events):
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(commands)
        started = time.monotonic()
        try:
            for batch in range(100):
                for _ in range(100):
                    data = _fuzz_message(rng)
                    if rng.random() < 0.02:
                        socket.send_multipart([data, b"extra"])
                    else:
                        socket.send(data)
                for _ in range(100):  # exactly one reply per message
                    assert socket.poll(5000), f"no reply in batch {batch}"
                    reply = msgpack.unpackb(socket.recv())
                    assert reply["v"] == 1 and isinstance(reply["ok"], bool)
                    codes["ok" if reply["ok"] else reply["error"]["code"]] += 1
            assert not socket.poll(200), "more replies than requests"
            socket.send(msgpack.packb({"v": 1, "id": 424242, "type": "status"}))
            assert socket.poll(5000)
            status = msgpack.unpackb(socket.recv())
        finally:
            socket.close()
        elapsed = time.monotonic() - started
        code, _, stderr = stop(process, signal.SIGTERM)
    assert code == 0, stderr
    assert sum(codes.values()) == 10_000 and status["ok"] and status["id"] == 424242
    assert codes["ok"] > 2000 and codes["bad_request"] > 2000, codes
    assert status["underruns"] == 0 and status["error"] is None
    audio, rate = read_wav(out)
    assert len(audio) / rate >= elapsed
    _assert_no_gaps(audio, rate)


def _assert_no_gaps(audio: np.ndarray, rate: int, window: float = 0.05) -> None:
    """No 50 ms window after the first sound is digital silence."""
    n = round(window * rate)
    peaks = np.abs(audio[: len(audio) // n * n]).reshape(-1, n * audio.shape[1]).max(axis=1)
    first = int(np.argmax(peaks > 1e-3))
    silent = np.flatnonzero(peaks[first:] < 1e-4)
    assert silent.size == 0, f"silent windows at {[(first + i) * window for i in silent[:5]]} s"
