"""The render and explain-mood commands, run as a user runs them."""

import json
import subprocess
import sys

import numpy as np
import pytest

from adaptive_music.audio.wav import read_wav

CLI = [sys.executable, "-m", "adaptive_music.cli.main"]


def run(*args, cwd=None):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


def test_render_writes_the_requested_audio(tmp_path):
    out = tmp_path / "out.wav"
    p = run("render", "--mood", "calm forest at dawn, soft strings", "--at", "3", "goblins attack, fast drums",
            "--seconds", "6", "--seed", "7", "-o", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    audio, sr = read_wav(out)
    assert sr == 48000 and audio.shape == (6 * 48000, 2)
    assert np.abs(audio).max() > 0.05


def test_render_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "out.png"
    p = run("render", "--mood", "calm", "--seconds", "3", "-o", str(tmp_path / "o.wav"), "--plot", str(png),
            "--quiet")
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,needle", [
    (["--mood", "", "--seconds", "4"], "empty"),
    (["--mood", "%%% ###", "--seconds", "4"], "no mood words"),
    (["--mood", "calm", "--seconds", "-4"], "positive"),
    (["--mood", "calm", "--seconds", "4", "--backend", "nope"], "unknown backend"),
    (["--mood", "calm", "--seconds", "4", "--at", "9", "battle"], "outside the music (0 to 4 s)"),
    (["--mood", "calm", "--seconds", "4", "--at", "-1", "battle"], "outside the music"),
    (["--mood", "calm", "--seconds", "4", "--intensity", "nan"], "intensity"),
    (["--mood", "calm", "--seconds", "4", "--melody", "theme.ogg"], "--melody needs --backend musicgen"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "x.wav"
    p = run("render", *args, "-o", str(out))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], p.stderr
    assert not out.exists()


def test_unwritable_output_is_rejected_before_rendering(tmp_path):
    p = run("render", "--mood", "calm", "--seconds", "4", "-o", str(tmp_path / "missing" / "x.wav"))
    assert p.returncode == 2 and "does not exist" in p.stderr
    p = run("render", "--mood", "calm", "--seconds", "4", "-o", str(tmp_path))
    assert p.returncode == 2 and "directory" in p.stderr


def test_explain_mood_json_and_fallback():
    p = run("explain-mood", "goblinz attack, fast drums", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["params"]["tempo"] > 130 and "drums" in info["params"]["tags"]
    assert info["unknown"][0]["fallback"] == "goblins"
    p = run("explain-mood", "   ")
    assert p.returncode == 2


def test_render_example_runs(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "render_timeline.py"
    p = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    audio, sr = read_wav(tmp_path / "level.wav")
    assert audio.shape == (30 * sr, 2) and "boss fight at 1" in p.stdout
