"""C# client figures (issue 9): the C# core of bridge/dotnet under mono.

Prints, measured in this run:
- `status` round trip on loopback through one `adaptive-music serve --no-audio`, p50/p99,
  for the Python client (Client.status), the Node client (bridge/node) and the C# client
  (BridgeClient.StatusAsync, waited on), taken in turns so all three see the same
  machine; the C# figures as ratios to Python's (target: within 1.5x);
- reconnect time after a server restart: the server is stopped and started again on the
  same ports; from the new server's "serving" line to the C# client connected (hello
  checked) and to the game's mood and intensity restored, at the client's default back-off;
- engine output through the C# EngineAudio: a simulated engine reads 1024 frames every
  21.3 ms from `serve --output engine` for --audio-seconds; client underruns, position
  jumps, and bytes allocated inside Read (the audio callback).

    python bench/csharp_client.py [--round-trips 1000] [--rounds 10] [--restarts 5] [--audio-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bridge import ROOT, client_round_trips, percentiles, start_serve  # noqa: E402  (bench/bridge.py)
from engine_output import start_serve as start_engine_serve  # noqa: E402  (bench/engine_output.py)

NODE = ROOT / "bridge" / "node"


def build_harness(out: Path) -> Path:
    subprocess.run(["bash", str(ROOT / "bridge" / "dotnet" / "build.sh"), str(out)], check=True)
    return out / "harness.exe"


def node_round_trips(address: str, n: int) -> np.ndarray:
    result = subprocess.run(["node", "bench.mjs", address, str(n)], cwd=NODE, capture_output=True, text=True,
                            check=True, timeout=600)
    return np.array(json.loads(result.stdout)["us"]) / 1e6


def csharp_round_trips(harness: Path, address: str, n: int) -> np.ndarray:
    result = subprocess.run(["mono", str(harness), "bench", address, str(n)], capture_output=True, text=True,
                            check=True, timeout=600)
    return np.array(json.loads(result.stdout.splitlines()[-1])["us"]) / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def restart_once(harness: Path) -> dict:
    ports = ["--commands", f"tcp://127.0.0.1:{free_port()}", "--events", f"tcp://127.0.0.1:{free_port()}"]
    first, commands = start_serve(*ports)
    events = ports[3]
    client = subprocess.Popen(["mono", str(harness), "restart", commands, events], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "ready"
        first.send_signal(signal.SIGTERM)
        first.wait(20)
        stopped = time.monotonic()
        second, _ = start_serve(*ports)  # returns once the new server printed its "serving" line
        listening = time.monotonic()
        client.stdin.write("restarted\n")
        client.stdin.flush()
        out, _ = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    second.send_signal(signal.SIGTERM)
    second.wait(20)
    seen = json.loads(out.splitlines()[-1])
    seen["server_start_ms"] = (listening - stopped) * 1000
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--round-trips", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10,
                        help="turns of Python, Node, C# (each takes round-trips): short turns share the machine's load")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--audio-seconds", type=float, default=60)
    args = parser.parse_args()
    mono = subprocess.run(["mono", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus; python {platform.python_version()}; node {node}; {mono}")
    if not (NODE / "node_modules" / "zeromq").is_dir():
        subprocess.run([shutil.which("npm"), "ci", "--no-audit", "--no-fund"], cwd=NODE, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        harness = build_harness(Path(tmp))
        serve, address = start_serve()
        times: dict[str, list] = {"python": [], "node": [], "csharp": []}
        try:
            time.sleep(2.0)  # past the generator's start-up work
            for _ in range(args.rounds):
                times["python"].append(client_round_trips(address, args.round_trips))
                times["node"].append(node_round_trips(address, args.round_trips))
                times["csharp"].append(csharp_round_trips(harness, address, args.round_trips))
        finally:
            serve.terminate()
            serve.wait()
        stats = {name: percentiles(np.concatenate(runs)) for name, runs in times.items()}
        print(f"status round trip, loopback, serve --no-audio playing, {args.rounds} turns x {args.round_trips} "
              f"per client (after 500 warm-up each):")
        for name, label in (("python", "Python Client.status()"), ("node", "Node BridgeClient.status()"),
                            ("csharp", "C# BridgeClient.StatusAsync()")):
            p50, p99 = stats[name]
            print(f"  {label:<30} p50 {p50:5.0f} us  p99 {p99:6.0f} us")
        c50, c99 = stats["csharp"]
        y50, y99 = stats["python"]
        print(f"  C# / Python: p50 x{c50 / y50:.2f}, p99 x{c99 / y99:.2f} (target: within 1.5x)")
        turns = [(percentiles(c), percentiles(y)) for c, y in zip(times["csharp"], times["python"])]
        print(f"  C# / Python per turn, median of {args.rounds}: p50 x{np.median([c[0] / y[0] for c, y in turns]):.2f}, "
              f"p99 x{np.median([c[1] / y[1] for c, y in turns]):.2f}")

        runs = [restart_once(harness) for _ in range(args.restarts)]
        connected = np.array([r["reconnect_ms"] for r in runs])
        restored = np.array([r["restored_ms"] for r in runs])
        start = np.array([r["server_start_ms"] for r in runs])
        print(f"reconnect after a server restart, {args.restarts} restarts on the same ports, default back-off "
              f"(50 ms doubling to 250 ms):")
        print(f"  new server listening -> C# client connected (hello checked): median {np.median(connected):.0f} ms, "
              f"max {connected.max():.0f} ms")
        print(f"  new server listening -> game mood and intensity restored:     median {np.median(restored):.0f} ms, "
              f"max {restored.max():.0f} ms")
        print(f"  (the server itself took median {np.median(start):.0f} ms from stop to listening)")

        serve, address, events = start_engine_serve()
        try:
            result = subprocess.run(["mono", str(harness), "audio", address, events, str(args.audio_seconds),
                                     str(Path(tmp) / "pulled.raw")], capture_output=True, text=True, check=True,
                                    timeout=args.audio_seconds + 120)
        finally:
            serve.terminate()
            serve.wait()
        audio = json.loads(result.stdout.splitlines()[-1])
        print(f"engine output through C# EngineAudio, {args.audio_seconds:g} s, 48 kHz stereo, 1024-frame reads "
              f"every 21.3 ms, ring = 1024 + 2 x 1024 frames:")
        print(f"  reads {audio['callbacks']}, pulls {audio['pulls']}, client underruns {audio['underruns']} "
              f"({audio['underrun_frames']} frames of silence), position jumps {audio['discontinuities']}, "
              f"server underruns {audio['status']['underruns']}, bytes allocated in Read {audio['read_allocated_bytes']}")


if __name__ == "__main__":
    main()
