"""A MusicGen backend that fails is never silent: render stops with one line, live playback
falls back to the procedural backend and says so in status, events and the log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_music.bridge import Client
from musicgen_tiny import build_family, damage
from test_bridge_serve import served
from test_musicgen_matrix import stop

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adaptive_music.cli.main"]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A mono checkpoint whose text embedding of "battle" is NaN."""
    return damage(build_family(tmp_path_factory.mktemp("damaged") / "mono", "mono"), "battle")


def test_render_with_a_failing_backend_exits_1_with_one_line_and_writes_nothing(damaged, tmp_path):
    out = tmp_path / "out.wav"
    result = subprocess.run(CLI + ["render", "--backend", "musicgen", "--model", str(damaged), "--mood",
                                   "epic battle drums", "--seconds", "2", "-o", str(out), "--quiet"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and not out.exists()
    ours = [line for line in result.stderr.splitlines() if line.startswith("adaptive-music")]
    assert ours == [ours[0]] and "render: the musicgen backend failed: FloatingPointError" in ours[0]
    assert "NaN or infinite logits" in ours[0]


def test_serve_falls_back_visibly_when_musicgen_fails_mid_stream(damaged):
    args = ("--backend", "musicgen", "--model", str(damaged), "--mood", "calm forest night", "--min-rtf", "0.001",
            "--no-audio")
    with served(*args) as (process, commands, events):
        with Client(commands, events, timeout=30) as client:
            before = client.status()
            client.set_mood("epic battle drums", quantize="now")
            deadline = time.monotonic() + 120
            after = client.status()
            while after["backend"] != "procedural" and time.monotonic() < deadline:
                time.sleep(0.2)
                after = client.status()
            playhead = after["playhead"]
            with client.subscribe("status") as events:
                event = events.recv(timeout=5.0)  # published every second
            time.sleep(0.5)
            still = client.status()
        code, _, log = stop(process)
    assert code == 0, log
    assert (before["backend"], before["fallback"]) == ("musicgen", None)
    assert after["backend"] == "procedural"
    assert after["fallback"].startswith("musicgen backend failed: FloatingPointError")
    assert (event.data["backend"], event.data["fallback"]) == (after["backend"], after["fallback"])  # events too
    assert still["playhead"] > playhead and still["error"] is None  # the music goes on
    assert "musicgen backend failed: FloatingPointError" in log and "continuing with the procedural backend" in log

