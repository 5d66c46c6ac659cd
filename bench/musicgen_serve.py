"""MusicGen through the entry points a user runs, on this machine: `adaptive-music render`
(10 s with a mood change at 5 s) and `adaptive-music serve --no-audio --record` driven by a
bridge client over ZeroMQ (status, a "now" mood change, status 12 s in). Prints the render's
speed, serve's warm-up verdict, and whether it played MusicGen live (backend, fallback,
underruns). The checkpoint is musicgen-small's architecture with random weights.

    python bench/musicgen_serve.py           # on a GPU: the live path should be musicgen
    python bench/musicgen_serve.py --tiny    # a tiny checkpoint, to check the script on cpu
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from adaptive_music.bridge import Client  # noqa: E402

CLI = [sys.executable, "-m", "adaptive_music.cli.main"]
SHOWN = ("backend", "fallback", "underruns", "output_underflows", "playhead", "mood", "error")


def checkpoint(folder: Path, tiny: bool) -> Path:
    if tiny:
        from musicgen_tiny import build_tiny_musicgen

        return build_tiny_musicgen(folder)
    from musicgen_cpu import small_checkpoint

    return small_checkpoint(folder)


def run_render(model: Path, out: Path) -> None:
    started = time.perf_counter()
    r = subprocess.run(CLI + ["render", "--backend", "musicgen", "--model", str(model), "--mood",
                              "dark ambient dungeon", "--at", "5", "goblins attack, fast drums", "--seconds", "10",
                              "-o", str(out)], cwd=ROOT, capture_output=True, text=True)
    print(f"render 10 s: rc {r.returncode}, {time.perf_counter() - started:.1f} s wall (process start and load included)")
    print("  " + "\n  ".join((r.stdout + r.stderr).strip().splitlines()[-3:]))


def run_serve(model: Path, record: Path, log_path: Path) -> None:
    with open(log_path, "w+") as log:
        process = subprocess.Popen(CLI + ["serve", "--commands", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*",
                                          "--no-audio", "--record", str(record), "--backend", "musicgen",
                                          "--model", str(model)],
                                   cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            found = re.search(r"commands on (\S+) events on (\S+)", process.stdout.readline())
            if not found:
                process.wait(30)
                log.seek(0)
                raise SystemExit(f"serve did not start:\n{log.read()[-2000:]}")
            with Client(found.group(1), found.group(2), timeout=20) as client:
                status = client.status()
                print("status at start:", json.dumps({k: status.get(k) for k in SHOWN}))
                time.sleep(4)
                client.set_mood("goblins attack, fast drums, tense", quantize="now")
                time.sleep(8)
                status = client.status()
                print("status 12 s in, after a mood change:", json.dumps({k: status.get(k) for k in SHOWN}))
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        log.seek(0)
        lines = [line for line in log.read().splitlines() if "warming up" in line or "real time" in line]
        print("serve's warm-up:\n  " + "\n  ".join(lines))


def main() -> None:
    tiny = "--tiny" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = checkpoint(folder / "checkpoint", tiny)
        run_render(model, folder / "render.wav")
        run_serve(model, folder / "serve.wav", folder / "serve.log")


if __name__ == "__main__":
    main()
