"""Engine-output figures (issue 9: the music through the engine's mixer, `serve --output engine`).

Prints, measured in this run:

- latency: a set_mood with quantize "now" sent over the bridge, to the first changed sample
  (where the pulled stream departs from an offline render of the same session without that
  change) (a) arriving in the engine's pull reply, and (b) played by the engine's audio
  callback after its own buffer. The engine is a simulated one in a separate process,
  in real time: its callback plays `--callback` frames every callback period, from a local
  ring that it tops up with `audio_pull` of `--pull` frames to its buffer plus two pulls.
  The server and its generator run in this process, to keep the control calls with their
  stream positions for the offline renders;
- gaps: `--minutes` of stream from a `serve --output engine` process, pulled by an engine
  whose clock runs 200 ppm fast for the first half and 200 ppm slow for the second, with a
  mood change every 10 s of stream. The run is accelerated (the engine pulls as fast as the
  server answers, not paced by the wall clock), which is the harder case for the server:
  its ring is always nearly empty. Gaps counted: a block whose position is not where the
  last one ended, a short block, and `status.underruns` (blocks padded with silence);
- the cost of a pull: the round trip of `audio_pull` of 1024 frames at 44.1 and 48 kHz
  (a process pulling in real time), and the serve process's CPU meanwhile.

    python bench/engine_output.py [--changes 100] [--minutes 10] [--rate 44100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from adaptive_music.bridge import Client, EngineStream, Server
from adaptive_music.engine.resample import StreamResampler
from adaptive_music.playback import EngineOutput, Soundtrack
from adaptive_music.playback.feed import render_controls
from bridge import cpu_seconds, rss_mb  # bench/bridge.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
ANY_PORT = "tcp://127.0.0.1:*"
RING_RATE = 48000
MOODS = ("calm exploration, soft strings", "tense chase, fast drums")


# -- the simulated engine (run in a child process) ---------------------------------------


def engine_main(commands: str, rate: int, callback: int, pull: int, buffer: int, seconds: float) -> None:
    """Play ``seconds`` in real time; print as JSON the pulls ([position, monotonic time of the reply]
    each), the monotonic time the callback played frame 0, and the callbacks that came late (this
    process was not scheduled in time: a real engine's audio thread would have played silence)."""
    stream = EngineStream(commands, rate)
    pulls, level, late = [], 0, 0
    t0 = time.monotonic() + 0.2
    for k in range(int(seconds * rate / callback)):
        while level < buffer + 2 * pull:
            position, pcm = stream.pull(pull)
            pulls.append((position, time.monotonic()))
            level += len(pcm)
        due = t0 + k * callback / rate
        late += time.monotonic() > due + callback / rate
        time.sleep(max(0.0, due - time.monotonic()))
        level -= callback  # the callback plays frames k * callback ... (k + 1) * callback
    stream.close()
    print(json.dumps({"pulls": pulls, "t0": t0, "late": late}))


def start_engine(commands: str, args: argparse.Namespace, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--engine", commands, str(args.rate), str(args.callback),
                             str(args.pull), str(args.buffer), str(seconds)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


# -- latency -------------------------------------------------------------------------------


def first_change(heard: np.ndarray, reference: np.ndarray, start: int) -> int | None:
    diff = np.flatnonzero(np.any(np.abs(heard[start:] - reference[start:]) > 1e-6, axis=1))
    return start + int(diff[0]) if len(diff) else None


def run_latency(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    gap = 0.5  # seconds between changes: more than a change takes to be heard
    seconds = 3.0 + gap * args.changes * 1.3 + 3.0
    calls = []
    with Soundtrack(seed=args.seed, mood=MOODS[0], sink=EngineOutput(), ahead=args.ahead,
                    record_controls=True) as music:
        with Server(music, commands=ANY_PORT, events=ANY_PORT) as server, \
                Client(server.commands_endpoint, server.events_endpoint, timeout=5) as client:
            engine = start_engine(server.commands_endpoint, args, seconds)
            time.sleep(3.0)
            for i in range(args.changes):
                time.sleep(gap * rng.uniform(0.7, 1.3))
                calls.append(time.monotonic())
                client.set_mood(MOODS[(i + 1) % 2], quantize="now")
            out, _ = engine.communicate(timeout=seconds + 60)
            status = client.status()
        controls, spec = music.controls(), music.spec
    log = json.loads(out)
    pulls, t0 = log["pulls"], log["t0"]
    assert len(controls) == len(calls), "mood changes were coalesced: space them further apart"
    frames = pulls[-1][0] + args.pull
    ring_frames = -(-frames * RING_RATE // args.rate) + 64

    def render(upto: list, until: int = ring_frames) -> np.ndarray:
        audio = render_controls(spec.build(), upto, until)
        return StreamResampler(RING_RATE, args.rate, 2).process(audio)

    heard = render(controls)[:frames]  # what was pulled (the tests check that it is, sample for sample)
    pulled_at = np.array([t for _, t in pulls])
    to_pull, to_play = [], []
    for i, (called, control) in enumerate(zip(calls, controls)):
        start = control.position * args.rate // RING_RATE
        until = min(ring_frames, control.position + RING_RATE)  # a change is heard well within 1 s
        without = render(controls[:i], until)
        d = first_change(heard[: len(without)], without, start)
        if d is None:
            continue
        to_pull.append(1000 * (pulled_at[d // args.pull] - called))
        to_play.append(1000 * (t0 + d / args.rate - called))
    return {"to_pull": to_pull, "to_play": to_play, "underruns": status["underruns"], "pulls": len(pulls),
            "late": log["late"]}


# -- gaps with a drifting clock -------------------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen, str, str]:
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, "-m", "adaptive_music.cli.main", "serve", "--output", "engine",
                                "--commands", ANY_PORT, "--events", ANY_PORT, *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=log, text=True)
    found = re.search(r"commands on (\S+) events on (\S+)", process.stdout.readline())
    if not found:
        process.kill()
        log.seek(0)
        raise RuntimeError(f"serve did not start: {log.read()[-2000:]}")
    return process, found.group(1), found.group(2)


def run_gaps(args: argparse.Namespace) -> dict:
    serve, commands, events = start_serve("--ahead", str(args.ahead))
    try:
        with Client(commands, events, timeout=10) as client, client.engine_stream(args.rate) as stream:
            expected, gaps, short, t, consumed, level = 0, 0, 0, 0.0, 0, 0
            buffered, rss = [], []
            half = args.minutes * 30.0
            next_change = 10.0
            began = time.monotonic()
            for ppm in (200.0, -200.0):
                period = args.callback / (args.rate * (1 + ppm * 1e-6))
                end = t + half
                while t < end:
                    while level < args.buffer + 2 * args.pull:
                        position, pcm = stream.pull(args.pull)
                        gaps += position != expected
                        short += len(pcm) != args.pull
                        expected = position + len(pcm)
                        level += len(pcm)
                    level -= args.callback
                    consumed += args.callback
                    t += period
                    if t >= next_change:
                        next_change += 10.0
                        client.set_mood(MOODS[int(t // 10) % 2], quantize="now")
                        buffered.append(client.status()["buffered"])
                        rss.append(rss_mb(serve.pid))
            wall = time.monotonic() - began
            status = client.status()
    finally:
        serve.terminate()
        serve.wait()
    return {"stream_seconds": expected / args.rate, "consumed": consumed, "wall": wall, "gaps": gaps,
            "short": short, "underruns": status["underruns"], "pulls": status["pulls"],
            "max_buffered": max(buffered), "rss": (min(rss), max(rss))}


# -- the cost of a pull ----------------------------------------------------------------------


def run_pull_cost(args: argparse.Namespace, rate: int, seconds: float = 20.0) -> dict:
    serve, commands, _ = start_serve("--ahead", str(args.ahead))
    try:
        with EngineStream(commands, rate) as stream:
            for _ in range(20):
                stream.pull(1024)
            times = []
            cpu = cpu_seconds(serve.pid)
            start = time.monotonic()
            for i in range(int(seconds * rate / 1024)):
                t = time.perf_counter()
                stream.pull(1024)
                times.append(time.perf_counter() - t)
                time.sleep(max(0.0, start + (i + 1) * 1024 / rate - time.monotonic()))
            cpu = (cpu_seconds(serve.pid) - cpu) / (time.monotonic() - start)
    finally:
        serve.terminate()
        serve.wait()
    p50, p99 = np.percentile(times, [50, 99]) * 1e3
    return {"p50": p50, "p99": p99, "cpu": cpu}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=60, help="mood changes timed (default 60)")
    parser.add_argument("--minutes", type=float, default=10.0, help="stream length of the gap run (default 10)")
    parser.add_argument("--rate", type=int, default=44100, help="the engine's rate (default 44100)")
    parser.add_argument("--callback", type=int, default=441, help="frames per engine audio callback (default 441)")
    parser.add_argument("--pull", type=int, default=1024, help="frames per audio_pull (default 1024)")
    parser.add_argument("--buffer", type=int, default=2048,
                        help="the engine's own buffer in frames, on top of two pulls (default 2048)")
    parser.add_argument("--ahead", type=float, default=0.05, help="serve --ahead (default 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("latency", "gaps", "cost"))
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; "
          f"python {platform.python_version()}")
    print(f"engine: {args.rate} Hz, callback {args.callback} frames, pulls of {args.pull}, local ring topped up to "
          f"{args.buffer} + 2 x {args.pull} frames; serve --ahead {args.ahead:g}")
    if args.only in (None, "latency"):
        r = run_latency(args)
        print(f"mood change 'now' (n={len(r['to_pull'])}, {r['pulls']} pulls, server underruns {r['underruns']}, "
              f"engine callbacks late by more than a callback {r['late']}):")
        for key, what in (("to_pull", "first changed sample in the engine's pull reply"),
                          ("to_play", "first changed sample played by the engine (after its own buffer)")):
            v = r[key]
            print(f"  -> {what}: p50 {pct(v, 50):.0f} ms  p95 {pct(v, 95):.0f} ms  max {max(v):.0f} ms")
        print(f"  the engine's own buffer: {args.buffer} + 2 x {args.pull} frames at most = "
              f"{1000 * (args.buffer + 2 * args.pull) / args.rate:.0f} ms")
    if args.only in (None, "gaps"):
        r = run_gaps(args)
        print(f"drifting clock, {r['stream_seconds'] / 60:.1f} min of stream (200 ppm fast, then 200 ppm slow), "
              f"accelerated: {r['wall']:.0f} s of wall time, {r['pulls']} pulls:")
        print(f"  gaps {r['gaps']}  short blocks {r['short']}  server underruns {r['underruns']}  "
              f"max buffered {1000 * r['max_buffered']:.1f} ms  serve RSS {r['rss'][0]:.0f}..{r['rss'][1]:.0f} MB")
        print(f"  the engine consumed {r['consumed']} frames = {r['consumed'] / args.rate:.3f} s at its own rate")
    if args.only in (None, "cost"):
        for rate in (44100, 48000):
            r = run_pull_cost(args, rate)
            print(f"audio_pull of 1024 frames at {rate} Hz in real time (20 s): round trip p50 {r['p50']:.2f} ms  "
                  f"p99 {r['p99']:.2f} ms; serve CPU {100 * r['cpu']:.1f}% of a core")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--engine":
        engine_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                    float(sys.argv[7]))
    else:
        sys.exit(main())
