"""Real-time playback figures, measured through a PulseAudio null sink and its monitor.

    python bench/playback.py                       # the issue's figures: 10-minute underrun runs
    python bench/playback.py --minutes 1           # shorter underrun runs
    python bench/playback.py --only latency        # one section: underruns, latency
    python bench/playback.py --only underruns --probe   # and how late the machine woke a real-time thread

Sections:

underruns  Play the procedural backend for --minutes through the sink at
           --latency-ms device latency, under each of --loads: idle; busy
           (another thread of this, the game's, process does pure-Python
           busy work); game (two CPU hogs, `yes > /dev/null` at nice 0, plus
           a thread of this process allocating, touching and freeing 64 MiB
           over and over). Counts ring underruns, device underflows, the
           holes the output's clock saw, device restarts, and the holes in
           a recording of the sink (runs of digital silence inside the
           music): their number, total and longest. With --exact it also
           keeps the recording and compares it with the offline render of
           the same seed and mood changes: holes, and the music skipped
           after them (which a count of silence cannot see).
latency    One captured session with --changes mood changes of each kind:
           transition="now" (call to first changed sample heard, p50/p95),
           "beat" and "bar" (first changed sample vs. the beat or bar
           boundary), and beat callbacks (when they fire vs. when the beat
           is heard). "Heard" is when the null sink played the sample: the
           capture's arrival time plus the sink's latency (see SinkLatency).

The sink is started with scripts/pulse-test-sink.sh if it is not running,
and stopped again at the end. That script's sink does not rewind, so the
recording is what it played; with ADAPTIVE_MUSIC_PULSE_REWINDS=1 it does,
and then the music skipped after a hole was played by the sink (it replaced
silence already recorded): silence heard = silence - music skipped.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import re
import subprocess
import sys
import threading
import time
from typing import Callable

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adaptive_music.config import StreamConfig  # noqa: E402
from adaptive_music.models import load_backend  # noqa: E402
from adaptive_music.playback.capture import CaptureMismatch, PulseCapture, align, walk_holes  # noqa: E402
from adaptive_music.playback.feed import render_controls
from adaptive_music.playback.soundtrack import Soundtrack  # noqa: E402

SCRIPT = ROOT / "scripts" / "pulse-test-sink.sh"
PROBE = ROOT / "bench" / "wakeup_probe.py"
MOODS = ("calm exploration, soft strings", "tense chase, fast drums")
SR = 48000


def stream_config(args: argparse.Namespace) -> StreamConfig | None:
    if args.hop is None:
        return None
    return load_backend("procedural").default_config().replace(hop_seconds=args.hop)


def busy_work(stop: threading.Event) -> None:
    """Python-heavy work that holds the GIL whenever it can (a game's logic thread)."""
    x = 0
    while not stop.is_set():
        for i in range(20000):
            x += i * i % 7


def churn_memory(stop: threading.Event) -> None:
    """A game's allocator: 64 MiB allocated, touched and freed, over and over."""
    while not stop.is_set():
        block = np.ones(8 << 20)  # 64 MiB of float64, every page touched
        del block
        time.sleep(0.01)


class CaptureHoles:
    """Records the sink's monitor with parec and finds the runs of digital silence inside the
    music as they arrive, without keeping the audio (a 30-minute run is 0.7 GB)."""

    MIN_FRAMES = 24  # 0.5 ms: shorter all-zero runs happen in music

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            ["parec", "-d", "testsink.monitor", "--format=float32le", f"--rate={SR}", "--channels=2", "--raw",
             "--latency-msec=20"], stdout=subprocess.PIPE)
        self.runs: list[int] = []  # lengths in frames, of runs after the music started
        self._run = 0
        self._started = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        rest = b""
        while True:
            chunk = self._proc.stdout.read1(1 << 16)
            if not chunk:
                return
            data = rest + chunk
            usable = len(data) // 8 * 8
            rest = data[usable:]
            silent = np.all(np.frombuffer(data[:usable], np.float32).reshape(-1, 2) == 0, axis=1)
            self._scan(silent)

    def _scan(self, silent: np.ndarray) -> None:
        if not self._started:
            sound = np.flatnonzero(~silent)
            if not len(sound):
                return
            self._started = True
            silent = silent[sound[0]:]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], silent.astype(np.int8), [0]])))
        starts, ends = edges[::2], edges[1::2]
        for a, b in zip(starts, ends):
            if a == 0:  # continues the run the previous chunk ended with
                self._run += b
            else:
                self._close_run()
                self._run = b - a
            if b < len(silent):
                self._close_run()
        if not len(starts) or ends[-1] < len(silent):
            self._close_run()

    def _close_run(self) -> None:
        if self._run >= self.MIN_FRAMES:
            self.runs.append(self._run)
        self._run = 0

    def stop(self) -> list[int]:
        """Stop recording; the holes found (the silence after the music is not one)."""
        self._proc.terminate()
        self._proc.wait()
        self._reader.join()
        return self.runs


def start_load(load: str, stop: threading.Event) -> list[subprocess.Popen]:
    """Start the load a run is measured under; returns the processes to end afterwards."""
    if load == "busy":
        threading.Thread(target=busy_work, args=(stop,), daemon=True).start()
    if load != "game":
        return []
    threading.Thread(target=churn_memory, args=(stop,), daemon=True).start()
    return [subprocess.Popen(["sh", "-c", "exec yes > /dev/null"]) for _ in range(2)]


class WakeupProbe:
    """bench/wakeup_probe.py beside a run, and the times the output's clock saw each hole:
    which holes followed a moment when the machine woke a real-time thread late."""

    WINDOW = 0.25  # seconds before a hole is noticed in which a late wake-up counts as its cause

    def __init__(self, seconds: float, holes: Callable[[], int]) -> None:
        self._proc = subprocess.Popen([sys.executable, str(PROBE), "--seconds", str(seconds + 60)],
                                      stdout=subprocess.PIPE, text=True)
        self._seconds, self._holes, self.hole_times = seconds, holes, []
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_holes, daemon=True)
        self._watch.start()

    def _watch_holes(self) -> None:
        seen = self._holes()
        while not self._stop.wait(0.005):
            now = self._holes()
            self.hole_times += [time.monotonic()] * (now - seen)
            seen = now

    def stop(self) -> dict:
        self._stop.set()
        self._watch.join()
        self._proc.terminate()
        out, _ = self._proc.communicate(timeout=10)
        lines = out.splitlines()
        stalls = [tuple(map(float, line.split())) for line in lines if not line.startswith("#")]
        explained = sum(any(h - self.WINDOW <= t <= h for t, _ in stalls) for h in self.hole_times)
        # As many holes at random times would follow a stall this often: the windows' share of the run.
        chance = len(self.hole_times) * min(1.0, len(stalls) * self.WINDOW / self._seconds)
        return {"probe": lines[-1].lstrip("# ") if lines else "no summary", "probe_stalls": len(stalls),
                "probe_worst_ms": max((late for _, late in stalls), default=0.0),
                "holes_after_a_stall": explained, "holes_timed": len(self.hole_times), "by_chance": chance}


def max_latency(args: argparse.Namespace) -> float:
    return max(args.latency_ms, args.max_latency_ms) / 1000


def run_underruns(args: argparse.Namespace, feed: str, load: str) -> dict:
    stop = threading.Event()
    device = int(args.device) if args.device.isdigit() else args.device
    music = Soundtrack(seed=args.seed, mood=MOODS[0], device=device, latency=args.latency_ms / 1000,
                       max_latency=max_latency(args), ahead=args.ahead, seconds=args.minutes * 60,
                       process=feed == "process", record_controls=args.exact,
                       blocksize=args.blocksize, config=stream_config(args))
    capture = CaptureHoles()
    kept = PulseCapture("testsink.monitor", latency=0.02) if args.exact else None
    if kept is not None:
        kept.start()
    hogs = start_load(load, stop)
    probe = None
    try:
        with music:
            if args.probe:
                probe = WakeupProbe(args.minutes * 60, lambda: music.playback.holes)
            # Keep the music moving so that the generator keeps meeting new material.
            i = 0
            while not music.wait(timeout=5.0):
                i += 1
                music.set_mood(MOODS[i % 2], transition="bar", ramp=1.0)
            status = music.status()
    finally:
        stop.set()
        for hog in hogs:
            hog.kill()
            hog.wait()
        holes = capture.stop()
        probed = probe.stop() if probe else {}
        captured = kept.stop() if kept is not None else None
    exact = {} if captured is None else compare_with_render(music, captured, round(args.minutes * 60 * SR))
    return {
        **probed,
        **exact,
        "underruns": status["underruns"],
        "output_underflows": status["output_underflows"],
        "restarts": music.playback.restarts,
        "host": status["host"],
        "latency_ms": 1000 * status["latency"],
        "renderer": status["renderer"],
        "clock_holes": status["holes"],
        "clock_lost_ms": 1000 * status["lost_seconds"],
        "capture_holes": len(holes),
        "capture_silence_ms": 1000 * sum(holes) / SR,
        "capture_longest_ms": 1000 * max(holes, default=0) / SR,
    }


def compare_with_render(music: Soundtrack, captured: np.ndarray, frames: int) -> dict:
    """Walk a whole recording against the offline render of what ``music`` played: holes of
    silence (or a ring underrun's fade), and the music skipped where it resumed."""
    reference = render_controls(music.spec.build(), music.controls(), frames)
    for second in range(11):  # a hole in the first moments can hide the start: then align later
        try:
            start = align(captured, reference[second * SR:])
            break
        except CaptureMismatch:
            continue
    else:
        return {"exact": "the music's first 10 s are not in the recording"}
    try:
        holes = walk_holes(captured[start:], reference[second * SR:], most_skipped=SR, longest=2 * SR)
    except CaptureMismatch as exc:
        return {"exact": f"the recording is not the music with holes: {exc}"}
    silence = [h[1] for h in holes]
    skipped = [h[2] for h in holes]
    return {"exact": f"from {second} s on: {len(holes)} holes, silence {1000 * sum(silence) / SR:.1f} ms (longest "
                     f"{1000 * max(silence, default=0) / SR:.1f} ms), music skipped {1000 * sum(skipped) / SR:.1f} "
                     f"ms (longest {1000 * max(skipped, default=0) / SR:.1f} ms)"}


def first_change(heard: np.ndarray, reference: np.ndarray, start: int) -> int | None:
    """First frame at or after ``start`` where the two differ (NaN, not heard, is not a difference)."""
    diff = np.flatnonzero(np.any(np.abs(heard[start:] - reference[start:]) > 1e-6, axis=1))
    return start + int(diff[0]) if len(diff) else None


def align(capture: np.ndarray, reference: np.ndarray) -> int:
    """Index in ``capture`` where ``reference`` best fits (FFT cross-correlation)."""
    a = capture.mean(axis=1).astype(np.float64)
    b = reference.mean(axis=1).astype(np.float64)
    n = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)[: len(a) - len(b) + 1]
    return int(np.argmax(corr))


class CaptureMap:
    """Where each 0.1 s of the reference lies in the capture, found piece by piece.

    A dropout at the device shifts everything after it in the capture; mapping
    each piece separately keeps measuring after one, and counts them.
    """

    SEG = SR // 10

    def __init__(self, captured: np.ndarray, reference: np.ndarray) -> None:
        self.offsets: list[int | None] = []
        guess = align(captured, reference[:SR])
        seg = self.SEG
        for k in range(0, len(reference) - seg + 1, seg):
            piece = reference[k : k + seg]
            at = guess + k
            if not self._matches(captured, at, piece):
                lo = max(0, at - 3 * SR)
                window = captured[lo : at + 3 * SR + seg]
                found = lo + align(window, piece) if len(window) >= seg else None
                if found is not None and self._matches(captured, found, piece):
                    guess = found - k
                    at = found
                else:
                    at = None
            self.offsets.append(None if at is None else at - k)
        found = [o for o in self.offsets if o is not None]
        self.complete = len(found) == len(self.offsets)
        self.jumps = int(np.count_nonzero(np.diff(found))) if found else 0
        self.heard = np.full_like(reference, np.nan)
        for i, off in enumerate(self.offsets):
            if off is not None:
                self.heard[i * seg : (i + 1) * seg] = captured[off + i * seg : off + (i + 1) * seg]

    @staticmethod
    def _matches(captured: np.ndarray, at: int, piece: np.ndarray) -> bool:
        got = captured[at : at + len(piece)]
        return at >= 0 and len(got) == len(piece) and float(np.max(np.abs(got - piece))) <= 1e-6

    def index(self, sample: int) -> int | None:
        """Capture index of reference sample ``sample``, if that piece was found."""
        i = min(sample // self.SEG, len(self.offsets) - 1)
        off = self.offsets[i]
        return None if off is None else sample + off


class SinkLatency:
    """Samples the null sink's latency with pactl while it plays.

    The monitor gets each sample when the sink renders it, which is the
    sink's latency before the sink's clock plays it; a DAC time refers to the
    playing, so "heard" is the capture time plus this latency.
    """

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SinkLatency":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            out = subprocess.run(["pactl", "list", "sinks"], capture_output=True, text=True).stdout
            found = re.search(r"Name: testsink\n(?:.*\n)*?\s*Latency: (\d+) usec", out)
            if found:
                self.samples.append(int(found.group(1)) / 1e6)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples)) if self.samples else 0.0


def run_latency(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    plan = ["now"] * args.changes + ["beat"] * (args.changes // 2) + ["bar"] * (args.changes // 2)
    gap = 2.5  # seconds between changes: a bar at the slowest tempo fits in
    seconds = 3.0 + gap * len(plan) + 2.0
    beats: list[tuple[float, object]] = []
    calls: list[tuple[float, str]] = []
    capture = PulseCapture("testsink.monitor")
    capture.start()
    try:
        with Soundtrack(seed=args.seed, mood=MOODS[0], device="pulse", latency=args.latency_ms / 1000,
                        max_latency=max_latency(args), ahead=args.ahead, seconds=seconds, record_controls=True,
                        blocksize=args.blocksize, config=stream_config(args)) as music:
            music.on_beat(lambda beat: beats.append((time.monotonic(), beat)))
            while music.status()["playhead"] < 3.0:
                time.sleep(0.01)
            with SinkLatency() as sink:  # sampled while the music plays
                for i, transition in enumerate(plan):
                    time.sleep(gap * rng.uniform(0.7, 1.3) if i else 0.0)
                    calls.append((time.monotonic(), transition))
                    music.set_mood(MOODS[(i + 1) % 2], transition=transition)
                music.wait(timeout=seconds + 30)
            status = music.status()
            controls = music.controls()
            spec = music.spec
    finally:
        captured = capture.stop()
    assert len(controls) == len(plan), "mood changes were coalesced: space them further apart"

    frames = int(seconds * SR)

    def render(upto: list, length: int = frames) -> np.ndarray:
        return render_controls(spec.build(), upto, length)

    reference = render(controls)
    where = CaptureMap(captured, reference)
    heard = where.heard
    boundaries = {"beat": sorted(b.sample for _, b in beats),
                  "bar": sorted(b.sample for _, b in beats if b.beat == 0)}
    now_ms, quantized_ms = [], {"beat": [], "bar": []}
    for i, ((called, transition), control) in enumerate(zip(calls, controls)):
        length = min(frames, control.position + 4 * SR)  # a change is heard well within 4 s
        d = first_change(heard[:length], render(controls[:i], length), control.position)
        if d is None or where.index(d) is None:
            continue
        if transition == "now":
            now_ms.append(1000 * (capture.played_at(where.index(d)) + sink.mean - called))
        else:
            nearest = min(boundaries[transition], key=lambda s: abs(s - d))
            quantized_ms[transition].append(1000 * (d - nearest) / SR)
    heard_beats = [(fired, b) for fired, b in beats if b.sample < frames and where.index(b.sample) is not None]
    def heard_at(sample: int) -> float:
        return capture.played_at(where.index(sample)) + sink.mean

    fire_ms = [1000 * (fired - heard_at(b.sample)) for fired, b in heard_beats]
    stamp_ms = [1000 * (b.time - heard_at(b.sample)) for _, b in heard_beats]
    return {
        "capture_exact": where.complete and where.jumps == 0,
        "dropouts": where.jumps + sum(o is None for o in where.offsets),
        "underruns": status["underruns"],
        "output_underflows": status["output_underflows"],
        "now_ms": now_ms,
        "quantized_ms": quantized_ms,
        "fire_ms": fire_ms,
        "stamp_ms": stamp_ms,
        "sink_latency_ms": 1000 * sink.mean,
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each underrun run (default 10)")
    parser.add_argument("--changes", type=int, default=20, help="mood changes with transition now (default 20)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="device latency (default 20 ms)")
    parser.add_argument("--max-latency-ms", type=float, default=100.0,
                        help="PulseAudio: let the device buffer widen after underflows up to this (default 100 ms, "
                             "the Soundtrack's; equal to --latency-ms keeps it fixed)")
    parser.add_argument("--ahead", type=float, default=0.05,
                        help="seconds generated ahead (default 0.05, the Soundtrack's)")
    parser.add_argument("--loads", default="idle,busy",
                        help="underrun runs, comma-separated: idle, busy (another Python thread busy), "
                             "game (two CPU hogs and a memory-churning thread) (default idle,busy)")
    parser.add_argument("--feeds", default="process",
                        help="where the generator runs in the underrun runs: process, thread or both "
                             "comma-separated (default process)")
    parser.add_argument("--blocksize", type=int, default=0, help="device frames per callback (default 0: the host's)")
    parser.add_argument("--hop", type=float, help="generator hop in seconds (default: the backend's)")
    parser.add_argument("--device", default="pulse",
                        help="underrun runs: output device (default pulse: straight to PulseAudio; a PortAudio "
                             "device index plays through ALSA's pulse plugin instead)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("underruns", "latency"))
    parser.add_argument("--probe", action="store_true",
                        help="underrun runs: run bench/wakeup_probe.py beside them and count the holes that "
                             "followed a real-time thread woken more than 5 ms late")
    parser.add_argument("--exact", action="store_true",
                        help="underrun runs: keep the recording (0.5 GB per 10 minutes) and compare it with the "
                             "offline render: holes and the music skipped after them")
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval for this run (seconds)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)

    started = subprocess.run([str(SCRIPT), "status"]).returncode != 0
    if started:
        subprocess.run([str(SCRIPT), "start"], check=True, stdout=subprocess.DEVNULL)
    os.environ["XDG_RUNTIME_DIR"] = os.environ.get("ADAPTIVE_MUSIC_PULSE_DIR", "/tmp/adaptive-music-pulse")
    hop = f"{args.hop * 1000:g} ms" if args.hop else "default"
    modules = subprocess.run(["pactl", "list", "modules", "short"], capture_output=True, text=True).stdout
    rewinds = "does not rewind" if "norewinds=1" in modules else "rewinds: its monitor may skip after a hole"
    print(f"# playback through PulseAudio null sink ({rewinds}), device latency {args.latency_ms:g} ms "
          f"(widening to {max_latency(args) * 1000:g} ms), "
          f"blocksize {args.blocksize or 'host'}, ahead {args.ahead * 1000:g} ms, procedural backend "
          f"(hop {hop}), seed {args.seed}, game-process switch interval {sys.getswitchinterval() * 1000:g} ms")
    try:
        if args.only in (None, "underruns"):
            for feed in args.feeds.split(","):
                for load in args.loads.split(","):
                    r = run_underruns(args, feed, load)
                    print(f"underruns  {args.minutes:g} min, generator in a {feed}, {load:5s} "
                          f"(host: {r['host']}, renderer: {r['renderer']}): underruns {r['underruns']}  "
                          f"device underflows {r['output_underflows']}  device restarts {r['restarts']}  "
                          f"clock holes {r['clock_holes']} ({r['clock_lost_ms']:.0f} ms)  "
                          f"capture holes {r['capture_holes']}: total {r['capture_silence_ms']:.1f} ms, "
                          f"longest {r['capture_longest_ms']:.1f} ms  device latency at the end "
                          f"{r['latency_ms']:.0f} ms", flush=True)
                    if args.exact:
                        print(f"  recording vs offline render: {r['exact']}", flush=True)
                    if args.probe:
                        print(f"  wake-up probe: {r['probe']}; wake-ups over 5 ms late {r['probe_stalls']} "
                              f"(latest {r['probe_worst_ms']:.1f} ms); holes on the output's clock with one in "
                              f"the {1000 * WakeupProbe.WINDOW:.0f} ms before: {r['holes_after_a_stall']} of "
                              f"{r['holes_timed']} (at random times: {r['by_chance']:.2f})", flush=True)
        if args.only in (None, "latency"):
            r = run_latency(args)
            now = r["now_ms"]
            print(f"capture equals offline render: {r['capture_exact']}  (dropouts in the capture "
                  f"{r['dropouts']}, underruns {r['underruns']}, output_underflows {r['output_underflows']})")
            print(f"mood change 'now' -> first changed sample heard: p50 {pct(now, 50):.0f} ms  "
                  f"p95 {pct(now, 95):.0f} ms  max {max(now):.0f} ms  (n={len(now)})")
            for kind, offs in r["quantized_ms"].items():
                worst = max((abs(o) for o in offs), default=float("nan"))
                print(f"mood change '{kind}': first changed sample vs {kind} boundary: "
                      f"max |offset| {worst:.3f} ms  (n={len(offs)})")
            print(f"'heard' = capture arrival + the sink's own latency, {r['sink_latency_ms']:.1f} ms on average")
            for name, key in (("beat callback fired", "fire_ms"), ("beat.time stamp", "stamp_ms")):
                v = r[key]
                print(f"{name} - beat heard: p50 {pct(v, 50):+.1f} ms  p95 |.| "
                      f"{pct(np.abs(v).tolist(), 95):.1f} ms  max |.| {max(abs(x) for x in v):.1f} ms  (n={len(v)})")
    finally:
        if started:
            subprocess.run([str(SCRIPT), "stop"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
