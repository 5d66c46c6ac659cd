"""Bridge figures (issue 4: the ZeroMQ bridge).

Prints, measured in this run:
- `status` round trip through `adaptive-music serve --no-audio` (a separate
  process, playing in real time), p50/p99, against a bare pyzmq ROUTER/DEALER
  echo of a small msgpack reply in a separate process, with the same client loop;
- a sustained command rate (default 20,000/s for 10 s, four clients) against
  `serve`: replies, errors, server memory each second, audio underruns;
- event-to-audible latency of `set_mood` with quantize now: the client sends it,
  the change is found in the recording (the first sample where the recording
  departs from an offline render of the same session without that change),
  and that sample's playing time is taken from the player's clock.

    python bench/bridge.py [--rate 20000] [--seconds 10] [--trials 20] [--ahead 0.05,0.2]
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

from adaptive_music.audio.wav import read_wav
from adaptive_music.bridge import Client, Server
from adaptive_music.playback.device import ClockedFileSink
from adaptive_music.playback.feed import render_controls
from adaptive_music.playback.soundtrack import Soundtrack

ROOT = Path(__file__).resolve().parents[1]
ANY_PORT = "tcp://127.0.0.1:*"
STATUS = {"v": 1, "type": "status"}


# -- processes under test ------------------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen, str]:
    log = tempfile.TemporaryFile("w+")  # a file, not a pipe: nobody reads the log while it runs
    process = subprocess.Popen(
        [sys.executable, "-m", "adaptive_music.cli.main", "serve", "--no-audio", "--commands", ANY_PORT,
         "--events", ANY_PORT, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    found = re.search(r"commands on (\S+)", process.stdout.readline())
    if not found:
        process.kill()
        log.seek(0)
        raise RuntimeError(f"serve did not start: {log.read()[-2000:]}")
    return process, found.group(1)


def bare_echo() -> None:
    """A bare ROUTER that answers each request with a small msgpack reply (run in a child process)."""
    socket = zmq.Context.instance().socket(zmq.ROUTER)
    socket.bind(ANY_PORT)
    print(socket.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        identity, frame = socket.recv_multipart()
        request = msgpack.unpackb(frame)
        socket.send_multipart([identity, msgpack.packb({"v": 1, "id": request["id"], "ok": True})])


def start_bare_echo() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, __file__, "--bare-echo"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    return process, process.stdout.readline().strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its children, in seconds."""
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(c) for c in (task / "children").read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


# -- round trip ---------------------------------------------------------------------------


def round_trips(address: str, n: int, warmup: int = 500) -> np.ndarray:
    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.connect(address)
    times = []
    for i in range(warmup + n):
        start = time.perf_counter()
        socket.send(msgpack.packb({**STATUS, "id": i}))
        reply = msgpack.unpackb(socket.recv())
        times.append(time.perf_counter() - start)
        assert reply["id"] == i and reply["ok"], reply
    socket.close()
    return np.array(times[warmup:])


def client_round_trips(address: str, n: int, warmup: int = 500) -> np.ndarray:
    with Client(address) as client:
        times = []
        for _ in range(warmup + n):
            start = time.perf_counter()
            client.status()
            times.append(time.perf_counter() - start)
    return np.array(times[warmup:])


def percentiles(times: np.ndarray) -> tuple[float, float]:
    p50, p99 = np.percentile(times, [50, 99]) * 1e6
    return p50, p99


# -- sustained rate -------------------------------------------------------------------------

_MIX = [  # (weight, request fields): what a busy game might send
    (70, {"type": "status"}),
    (20, {"type": "set_param", "name": "intensity"}),
    (8, {"type": "set_mood", "transition": {"quantize": "now"}}),
    (2, {"type": "event"}),
]
_MOODS = ["calm exploration", "combat", "dungeon", "stealth"]


def sustained(address: str, pid: int, rate: float, seconds: float, clients: int = 4) -> dict:
    rng = random.Random(1)
    kinds = [fields for weight, fields in _MIX for _ in range(weight)]
    sockets = []
    for _ in range(clients):
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        socket.sndhwm = socket.rcvhwm = 100_000
        socket.connect(address)
        sockets.append(socket)
    poller = zmq.Poller()
    for socket in sockets:
        poller.register(socket, zmq.POLLIN)
    codes: collections.Counter = collections.Counter()

    def read_replies(timeout_ms: float) -> int:
        count = 0
        for socket, _ in poller.poll(timeout_ms):
            while True:
                try:
                    reply = msgpack.unpackb(socket.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
                count += 1
                codes["ok" if reply["ok"] else reply["error"]["code"]] += 1
        return count

    sent = received = 0
    rss = []
    tick = 0.005
    start = time.perf_counter()
    next_rss = start
    while True:
        now = time.perf_counter()
        elapsed = now - start
        if elapsed >= seconds:
            break
        if now >= next_rss:
            rss.append(rss_mb(pid))
            next_rss += 1.0
        owed = rate * elapsed - sent
        for _ in range(int(owed)):
            fields = dict(rng.choice(kinds))
            if fields["type"] == "set_param":
                fields["value"] = rng.random()
            elif fields["type"] == "set_mood":
                fields["text"] = rng.choice(_MOODS)
            elif fields["type"] == "event":
                fields["name"] = rng.choice(["player_hit", "player_healed"])
            sockets[sent % clients].send(msgpack.packb({"v": 1, "id": sent, **fields}))
            sent += 1
        received += read_replies(0)
        left = tick - (time.perf_counter() - now)
        if left > 0:
            time.sleep(left)
    send_seconds = time.perf_counter() - start
    deadline = time.perf_counter() + 5
    while received < sent and time.perf_counter() < deadline:
        received += read_replies(100)
    drain = time.perf_counter() - start - send_seconds
    rss.append(rss_mb(pid))
    for socket in sockets:
        socket.close()
    return {"sent": sent, "received": received, "seconds": send_seconds, "drain": drain, "codes": codes, "rss": rss}


# -- event-to-audible latency ---------------------------------------------------------------


def latency(trials: int, ahead: float, seed: int = 5) -> dict:
    moods = ["calm soft piano, sparse", "fast driving drums and brass, urgent and heroic"]
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "latency.wav"
        sends = []
        with Soundtrack(backend="procedural", seed=seed, mood=moods[0], sink=ClockedFileSink(wav_path),
                        ahead=ahead, record_controls=True) as live:
            with Server(live, commands=ANY_PORT, events=ANY_PORT) as server, Client(server.commands_endpoint) as client:
                time.sleep(1.5)
                for i in range(trials):
                    time.sleep(rng.uniform(0.7, 1.2))
                    clock = live.playback.clock()
                    sent_at = time.monotonic()
                    client.set_mood(moods[(i + 1) % 2], quantize="now", ramp=0)
                    sends.append((sent_at, clock))
                time.sleep(1.0)
            status = live.status()
        controls = live.controls()
        spec = live.spec
        recording, sr = read_wav(wav_path)  # float32: exactly what was played
    moods_applied = [c for c in controls if c.method == "set_mood"]
    assert len(moods_applied) == trials, "every trial's mood change must be applied (none coalesced)"

    def offline(k: int, frames: int) -> np.ndarray:
        return render_controls(spec.build(), controls[:k], frames).astype(np.float32)

    latencies, queued, musical = [], [], []
    offset, unaligned = 0, 0
    context = sr // 10
    for i, change in enumerate(moods_applied):
        k = controls.index(change)
        frames = change.position + 2 * sr
        without = offline(k, frames)
        # Where the recording holds the stream: after the player's pre-roll, plus any
        # underrun gaps. Found by matching the 100 ms before the change exactly.
        offset = _locate(recording, without[change.position - context: change.position], offset + change.position - context)
        if offset is None:
            unaligned += 1
            offset = 0
            continue
        offset -= change.position - context
        heard = recording[offset + change.position: offset + frames]
        apart = np.abs(heard - without[change.position:][: len(heard)]).max(axis=1)
        diverged = np.flatnonzero(apart > 1e-3)  # -60 dBFS
        assert diverged.size, f"trial {i}: the change is not in the recording"
        audible = change.position + int(diverged[0])
        sent_at, (clock_frame, clock_time) = sends[i]
        heard_at = clock_time + (audible - clock_frame) / sr
        latencies.append(heard_at - sent_at)
        queued.append(clock_time + (change.position - clock_frame) / sr - sent_at)
        musical.append((audible - change.position) / sr)
    return {"latency": np.array(latencies), "queued": np.array(queued), "musical": np.array(musical),
            "underruns": status["underruns"], "unaligned": unaligned}


def _locate(recording: np.ndarray, segment: np.ndarray, start: int, span: int = 48000) -> int | None:
    """First index at or after ``start`` (within ``span``) where ``recording`` holds ``segment`` exactly."""
    window = recording[start: start + span + len(segment)]
    for candidate in np.flatnonzero(window[: span, 0] == segment[0, 0]):
        if np.array_equal(window[candidate: candidate + len(segment)], segment):
            return start + int(candidate)
    return None


# -- report -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--round-trips", type=int, default=5000)
    parser.add_argument("--ahead", default="0.05,0.2",
                        help="comma-separated Soundtrack ahead values (serve --ahead) to run the rate and latency parts at")
    args = parser.parse_args()
    aheads = [float(a) for a in args.ahead.split(",")]
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus; python {platform.python_version()}, "
          f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}")

    bare, bare_address = start_bare_echo()
    quiet = round_trips(bare_address, args.round_trips)
    serve, address = start_serve("--ahead", str(aheads[0]))
    try:
        time.sleep(2.0)  # past the generator's start-up work
        bare_times = round_trips(bare_address, args.round_trips)
        bridge_times = round_trips(address, args.round_trips)
        client_times = client_round_trips(address, args.round_trips)
        with Client(address) as client:
            client.pause()  # the generator idles once its ring is full
            time.sleep(0.5)
            paused_times = round_trips(address, args.round_trips)
            client.resume()
    finally:
        bare.kill()
        serve.terminate()
        serve.wait()
    q50, q99 = percentiles(quiet)
    b50, b99 = percentiles(bare_times)
    s50, s99 = percentiles(bridge_times)
    c50, c99 = percentiles(client_times)
    z50, z99 = percentiles(paused_times)
    print(f"status round trip, {args.round_trips} each, loopback, same client loop (targets p50 300 us, p99 1000 us):")
    print(f"  bare pyzmq ROUTER/DEALER echo, nothing else running: p50 {q50:.0f} us  p99 {q99:.0f} us")
    print(f"  bare echo while serve plays:                         p50 {b50:.0f} us  p99 {b99:.0f} us")
    print(f"  bridge, serve playing:                               p50 {s50:.0f} us  p99 {s99:.0f} us  "
          f"(x{s50 / b50:.2f} / x{s99 / b99:.2f} the bare echo beside it)")
    print(f"  bridge, serve paused (generator idle):               p50 {z50:.0f} us  p99 {z99:.0f} us")
    print(f"  bridge via Client.status(), playing:                 p50 {c50:.0f} us  p99 {c99:.0f} us")

    for ahead in aheads:
        serve, address = start_serve("--ahead", str(ahead))
        try:
            with Client(address) as client:
                before = client.status()
                cpu = cpu_seconds(serve.pid)
                run = sustained(address, serve.pid, args.rate, args.seconds)
                cpu = cpu_seconds(serve.pid) - cpu
                after = client.status()
        finally:
            serve.terminate()
            serve.wait()
        rss = run["rss"]
        print(f"sustained {args.rate:.0f} commands/s for {args.seconds:g} s, serve --ahead {ahead:g}, 4 clients, "
              f"mix {'/'.join(str(w) for w, _ in _MIX)} status/set_param/set_mood/event:")
        print(f"  sent {run['sent']} in {run['seconds']:.2f} s = {run['sent'] / run['seconds']:.0f}/s; replies "
              f"{run['received']} (the last {run['drain'] * 1000:.0f} ms after sending stopped); {dict(run['codes'])}")
        counters = {k: after["bridge"][k] - before["bridge"][k] for k in ("moods_applied", "moods_coalesced", "replies_dropped")}
        print(f"  serve CPU (server and generator processes): {cpu / run['seconds'] * 100:.0f}% of one core; {counters}")
        print(f"  serve RSS each second, MB: {' '.join(f'{x:.1f}' for x in rss)} "
              f"(second 1 to the end: {rss[-1] - rss[1]:+.1f} MB)")
        print(f"  audio during the run: underruns {after['underruns'] - before['underruns']}, "
              f"file-sink late buffers {after['output_underflows'] - before['output_underflows']}")

        result = latency(args.trials, ahead)
        lat = result["latency"] * 1000
        print(f"set_mood quantize now -> audible in the recording, {args.trials} trials, ahead {ahead:g} s "
              f"({result['unaligned']} trials not found in the recording):")
        print(f"  latency p50 {np.percentile(lat, 50):.0f} ms  p95 {np.percentile(lat, 95):.0f} ms  "
              f"max {lat.max():.0f} ms (target p95 <= 200 ms)")
        print(f"  of which queued ahead of the playhead: p50 {np.median(result['queued']) * 1000:.0f} ms; "
              f"waiting for the next musical step: p50 {np.median(result['musical']) * 1000:.0f} ms, "
              f"max {result['musical'].max() * 1000:.0f} ms; underruns {result['underruns']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--bare-echo"]:
        bare_echo()
    else:
        main()
