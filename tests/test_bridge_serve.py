"""`adaptive-music serve` as a process: recording, signals, CURVE keys, and a Node.js client."""

import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from adaptive_music.bridge import Client, ClientKeys

ROOT = Path(__file__).resolve().parents[1]
NODE_CLIENT = ROOT / "bridge" / "node"
SERVE = [sys.executable, "-m", "adaptive_music.cli.serve"]
ANY_PORTS = ["--commands", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*"]


@contextlib.contextmanager
def served(*args: str):
    """Run `serve` with ``args``; yield (process, commands address, events address)."""
    process = subprocess.Popen(SERVE + ["serve", *ANY_PORTS, *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        found = re.search(r"commands on (\S+) events on (\S+)", line)
        assert found, f"serve did not start: {line!r} {process.stderr.read() if process.poll() is not None else ''}"
        yield process, found.group(1), found.group(2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process, signum):
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


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
    with wave.open(str(out)) as wav:  # finalised: the header is complete and readable
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds >= 1.0


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
    with served("--no-audio") as (process, commands, events):
        result = subprocess.run([node, "check.mjs", commands, events], cwd=NODE_CLIENT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        with Client(commands, events) as client:
            status = client.status()
        code, _, stderr = stop(process, signal.SIGTERM)
    assert code == 0, stderr
    replies = seen["replies"]
    assert replies["hello"]["protocol"] == 1 and replies["hello"]["backend"] == "procedural"
    for kind in ("set_mood", "event", "set_param", "stinger", "pause", "resume", "status", "status_after"):
        assert replies[kind]["ok"] is True, kind
    assert replies["set_param"]["value"] == 0.25 and replies["status"]["intensity"] == 0.25
    assert replies["event"]["action"]  # the first event of the shipped map did something
    assert seen["errors"] == {
        "unknown_type": "unknown_type", "bad_version": "bad_version", "nan": "bad_request",
        "out_of_range": "bad_request", "missing_field": "bad_request", "wrong_type": "bad_request",
        "unknown_event": "unknown_event", "too_large": "too_large", "malformed": "bad_request",
    }
    assert seen["events"]["mood"]["phase"] == "start" and "intensity" in seen["events"]["status"]
    assert status["intensity"] == 0.25 and status["underruns"] == 0
