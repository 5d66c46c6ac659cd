"""`adaptive-music serve --output engine` as a process: an engine that stalls, floods, vanishes or
sends bad requests, over real sockets and msgpack. With no control calls, every block the server
hands out must equal the offline render of the same seed at its stream position."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time

import msgpack
import numpy as np
import pytest
import zmq

from adaptive_music.bridge import BridgeError, Client, EngineStream
from adaptive_music.engine.resample import StreamResampler
from adaptive_music.playback.feed import GeneratorSpec, render_controls
from test_bridge_serve import NODE_CLIENT, ROOT, SERVE, _node_modules, served

MOOD = "calm exploration, soft strings"  # serve's default mood
RATE = 44100


@pytest.fixture(scope="module")
def expected() -> np.ndarray:
    """The first 32 s of serve's stream (seed 0, its default mood, no controls) at 44.1 kHz."""
    # serve plays sampled instruments when a font is installed (CI installs one), as Soundtrack does
    ring = render_controls(GeneratorSpec("procedural", MOOD, backend_options={"soundfont": "auto"}).build(), [],
                           32 * 48000)
    return StreamResampler(48000, RATE, 2).process(ring)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pull_in_real_time(stream: EngineStream, pulls: int, frames: int = 1024) -> list[tuple[int, np.ndarray]]:
    """Pull as an engine does: a block each time its audio has played one (here, slept one)."""
    start = time.monotonic()
    blocks = []
    for i in range(pulls):
        blocks.append(stream.pull(frames))
        time.sleep(max(0.0, start + (i + 1) * frames / stream.sample_rate - time.monotonic()))
    return blocks


def check_block(expected: np.ndarray, position: int, pcm: np.ndarray) -> None:
    np.testing.assert_array_equal(pcm, expected[position : position + len(pcm)])


def test_an_engine_that_stops_pulling_stops_the_generator_and_resumes_cleanly(expected):
    """10 s without a pull: the server's memory stays flat, it uses next to no CPU (the generator
    is stopped: it is only `ahead` beyond the pulls), and the stream goes on from the next frame."""
    with served("--output", "engine") as (process, commands, events):
        with Client(commands, events, timeout=10) as client, client.engine_stream(RATE) as stream:
            pulled = pull_in_real_time(stream, 100)
            time.sleep(1.0)  # the generator tops the ring up to `ahead`, then stops
            before = client.status()
            rss, cpu = [rss_kib(process.pid)], cpu_seconds(process.pid)
            for _ in range(10):
                time.sleep(1.0)
                rss.append(rss_kib(process.pid))
            idle_cpu = cpu_seconds(process.pid) - cpu
            during = client.status()
            pulled += pull_in_real_time(stream, 100)
            after = client.status()
    assert max(rss) - min(rss) < 2048, rss  # KiB
    assert idle_cpu < 1.0, f"{idle_cpu:.2f} s of CPU in 10 s without a pull"
    assert during["buffered"] == before["buffered"] <= 0.05 + 1024 / 48000
    assert during["position"] == before["position"] == 100 * 1024 and during["pulls"] == 100
    assert [p for p, _ in pulled] == list(range(0, 200 * 1024, 1024))
    for position, pcm in pulled:
        check_block(expected, position, pcm)  # continuous across the stall: the same music
    assert after["underruns"] == 0 and after["output"] == "engine" and after["engine_rate"] == RATE


def pcm_block(reply: dict) -> tuple[int, np.ndarray]:
    return reply["position"], np.frombuffer(reply["pcm"], "<f4").reshape(reply["frames"], reply["channels"])


def raw_dealer(commands: str) -> zmq.Socket:
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(commands)
    return socket


def pull_request(id: int, frames: int = 1024) -> bytes:
    return msgpack.packb({"v": 1, "id": id, "type": "audio_pull", "frames": frames})


def test_bad_requests_too_fast_and_vanished_engines_get_errors_and_the_stream_goes_on(expected):
    with served("--output", "engine") as (process, commands, events):
        with Client(commands, events, timeout=10) as client:
            hello = client.hello()
            assert hello["protocol_minor"] == 1 and hello["output"] == "engine"
            assert {"audio_open", "audio_pull"} <= set(hello["types"])
            with pytest.raises(BridgeError, match="audio_pull: send audio_open first") as error:
                client.audio_pull(1024)
            assert error.value.code == "bad_request"
            for fields, message in [
                ({"sample_rate": 44100.0, "channels": 2}, "field 'sample_rate' must be an integer, got float"),
                ({"sample_rate": 1_000_000, "channels": 2}, "sample_rate must be an integer from 8000 to 192000"),
                ({"sample_rate": 44100, "channels": 6}, "channels must be 1 or 2, got 6"),
                ({"channels": 2}, "missing field 'sample_rate'"),
            ]:
                with pytest.raises(BridgeError, match=message):
                    client.request("audio_open", **fields)

            assert client.audio_open(RATE)["position"] == 0
            blocks = [pcm_block(client.audio_pull(1024))]
            for fields, message in [({"frames": 0}, "frames must be an integer from 1 to 8192, got 0"),
                                    ({"frames": 8193}, "got 8193"),
                                    ({"frames": "1024"}, "field 'frames' must be an integer, got string"),
                                    ({}, "missing field 'frames'")]:
                with pytest.raises(BridgeError, match=message):
                    client.request("audio_pull", **fields)
            with client.engine_stream(RATE) as stream:  # a connection of its own takes the stream over
                assert stream.position == 1024
                blocks += [stream.pull(1024) for _ in range(3)]  # none of that touched the stream
                with pytest.raises(BridgeError, match="another connection sent the latest audio_open"):
                    client.audio_pull(1024)

            # Too fast: floods of 50 pipelined pulls of the largest size, sent before reading any reply.
            flood = raw_dealer(commands)
            flood.send(msgpack.packb({"v": 1, "id": 0, "type": "audio_open", "sample_rate": RATE, "channels": 2}))
            assert flood.poll(10_000) and msgpack.unpackb(flood.recv())["position"] == 4 * 1024
            rss = []
            for round in range(3):
                for id in range(1, 51):
                    flood.send(pull_request(id, 8192))
                replies = []
                for _ in range(50):
                    assert flood.poll(10_000), "a pull got no reply"
                    replies.append(msgpack.unpackb(flood.recv()))
                rss.append(rss_kib(process.pid))
                first = 4 * 1024 + round * 50 * 8192
                assert [r["id"] for r in replies] == list(range(1, 51)) and all(r["ok"] for r in replies)
                assert [r["position"] for r in replies] == list(range(first, first + 50 * 8192, 8192))
                blocks += [pcm_block(r) for r in replies[::5]]
            # Vanished: an engine sends pulls and goes away without reading the replies.
            flood.send_multipart([pull_request(51, 8192)])
            flood.close()
            time.sleep(0.2)
            status = client.status()
            with client.engine_stream(RATE) as again:  # the engine comes back: the stream goes on
                assert again.position == status["position"] >= 4 * 1024 + 150 * 8192
                blocks += [again.pull(441) for _ in range(20)]
            status = client.status()
        assert process.poll() is None
    # Memory is bounded: after the first floods have warmed the allocator and the socket buffers
    # (a few MiB, seen on a quiet machine), the next flood takes no more.
    assert rss[2] - rss[1] < 2048 and rss[2] - rss[0] < 8192, f"RSS after each flood of pulls: {rss} KiB"
    for position, pcm in blocks:
        check_block(expected, position, pcm)
    assert status["underruns"] == 0 and status["error"] is None


def test_a_server_with_its_own_output_refuses_audio_requests_and_says_how_to_get_them():
    with served("--no-audio") as (process, commands, events):
        with Client(commands, events, timeout=10) as client:
            hello = client.hello()
            assert hello["protocol_minor"] == 1 and hello["output"] == "file"
            assert not {"audio_open", "audio_pull"} & set(hello["types"])
            for request in (lambda: client.audio_open(48000), lambda: client.audio_pull(1024)):
                with pytest.raises(BridgeError, match="serve --output engine") as error:
                    request()
                assert error.value.code == "bad_request"
            status = client.status()
            assert status["output"] == "file" and "position" not in status


@pytest.mark.parametrize("args, message", [
    (["--output", "engine", "--device", "hw:0"], "--device needs --output device"),
    (["--output", "engine", "--no-audio"], "--no-audio is --output file; it cannot go with --output engine"),
    (["--output", "engine", "--record", "out.wav"], "--record needs --output file"),
])
def test_serve_refuses_options_that_do_not_fit_the_engine_output(args, message):
    result = subprocess.run(SERVE + ["serve", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_node_client_pulls_the_same_stream(expected):
    node = shutil.which("node")
    assert node, "node is needed for the cross-language test"
    _node_modules()
    with served("--output", "engine") as (process, commands, events):
        result = subprocess.run([node, "engine_check.mjs", commands, events, str(RATE), "40", "1024"],
                                cwd=NODE_CLIENT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["open"]["ok"] and seen["open"]["sample_rate"] == RATE and seen["open"]["position"] == 0
    assert seen["positions"] == list(range(0, 40 * 1024, 1024))
    pcm = np.frombuffer(base64.b64decode(seen["pcm"]), "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(pcm, expected[: 40 * 1024])
