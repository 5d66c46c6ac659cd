"""The GPU benchmark script runs end to end (on cpu, with a tiny model) and prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_runs_on_a_tiny_model():
    args = ["--tiny", "--frames", "20", "--rtf-seconds", "1", "--latency-seconds", "2", "--changes", "3"]
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_musicgen.py"), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    assert "speed-up" in out.stdout
    assert "x real time" in out.stdout
    assert "mood-change latency over" in out.stdout and "p95" in out.stdout
