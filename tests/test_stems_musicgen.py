"""MusicGen stems: loops chosen in a longer generation, transitions by continuation, through the
CLI and the Python API, with a tiny random-weight checkpoint saved with save_pretrained.

A random model makes noise, so these tests hold the mechanics: loops are whole bars at the
manifest's tempo and wrap within their own distribution, transitions start on A's bar line with
the continuation within one codec frame of it and end on B's loop start, stingers are one bar that
rises from silence and decays, played by the stem player from the next beat, the manifest says
what the build lacks and validates, and a failing backend is one line and exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from adaptive_music.cli.main import main  # noqa: E402
from adaptive_music.stems import StemsError, StemsSpec, load_manifest  # noqa: E402
from adaptive_music.stems.files import read_audio  # noqa: E402
from adaptive_music.stems.loop_points import bar_phase, cut_loop, find_loop  # noqa: E402
from adaptive_music.stems.manifest import SCHEMA_PATH  # noqa: E402
from adaptive_music.stems.seams import loop_seam  # noqa: E402
from musicgen_tiny import build_family, damage  # noqa: E402
from stems_checks import assert_stinger_mixed_from_the_next_beat  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SR = 48000
CODEC_FRAME = SR // 50  # EnCodec 32 kHz at 50 frames/s, in output samples
MAP = """
[moods]
battle = "fast epic battle drums"
boss = "fast tense boss fight"

[stingers]
hit = "low brass hit"
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return build_family(tmp_path_factory.mktemp("mg_stems") / "mono", "mono")


@pytest.fixture(scope="module")
def build(checkpoint, tmp_path_factory) -> Path:
    """Two moods, one bar per loop, one-bar transitions, WAV, through the CLI, in two worker processes
    (started from this process, whose torch threads run: they must not hang)."""
    root = tmp_path_factory.mktemp("mg_build")
    (root / "map.toml").write_text(MAP)
    out = root / "music"
    assert main(["stems", "--backend", "musicgen", "--model", str(checkpoint), "--moods", str(root / "map.toml"),
                 "--out", str(out), "--format", "wav", "--bars", "1", "--transition-bars", "1", "--seed", "2",
                 "--jobs", "2", "--quiet"]) == 0
    return out


def test_manifest_says_what_a_musicgen_build_has_and_lacks(build, checkpoint):
    jsonschema = pytest.importorskip("jsonschema")
    manifest = load_manifest(build)
    jsonschema.validate(manifest, json.loads(SCHEMA_PATH.read_text()))
    render = manifest["render"]
    assert render["backend"] == "musicgen" and render["model"] == str(checkpoint)
    assert {"layers", "midi", "key"} <= set(render["lacks"]) and "stingers" not in render["lacks"]
    assert manifest["stingers"] == {"hit": "low brass hit"} and len(manifest["transitions"]) == 2
    for mood in manifest["moods"].values():
        assert mood["layers"] == [] and mood["key"] is None and "midi" not in mood
        assert list(mood["stingers"]) == ["hit"] and (build / mood["stingers"]["hit"]["file"]).is_file()
    assert not (build / "midi").exists() and not list(build.glob("*_layers.tres"))
    assert (build / "music.tres").read_text().count("clip_") > 0


def test_loops_are_whole_bars_at_the_manifest_tempo_and_wrap_without_a_click(build):
    manifest = load_manifest(build)
    for name, mood in manifest["moods"].items():
        beats = mood["bar_samples"] / (60.0 * SR / mood["bpm"])
        assert beats == pytest.approx(mood["beats_per_bar"], abs=1e-9)  # the bar at the manifest's bpm, exactly
        audio = read_audio(build / mood["loop"]["file"])[0]
        assert len(audio) == mood["loop"]["loop_length"] == mood["bars"] * mood["bar_samples"]
        assert np.isfinite(audio).all() and 0 < np.abs(audio).max() < 1.0
        seam = loop_seam(audio, SR, mood["bar_samples"])
        assert seam.jump <= seam.jump_p999 and seam.flux <= seam.flux_max, (name, seam.as_dict())
        generated = mood["generated"]
        assert generated["loop_from"] + mood["loop"]["loop_length"] < generated["samples"]
        assert generated["loop_from"] >= mood["bar_samples"]  # after a bar of warm-up


def test_transitions_continue_from_a_bar_line_within_one_codec_frame(build):
    manifest = load_manifest(build)
    moods = manifest["moods"]
    for t in manifest["transitions"]:
        a, b = moods[t["from"]], moods[t["to"]]
        assert t["bar_lines"] == [0, b["bar_samples"]] and t["samples"] == b["bar_samples"]
        assert abs(t["continuation_at"]) <= CODEC_FRAME // 2
        audio = read_audio(build / t["file"])[0]
        loop_a, loop_b = (read_audio(build / m["loop"]["file"])[0] for m in (a, b))
        assert len(audio) == t["samples"]
        # Out of A's loop and into B's, the steps are within the loops' own.
        for before, after, loop in ((loop_a[-1], audio[0], loop_a), (audio[-1], loop_b[0], loop_b)):
            steps = np.abs(np.diff(loop, axis=0)).max(axis=1)
            assert np.abs(after - before).max() <= np.percentile(steps, 99.9), t["file"]


def test_stingers_are_a_bar_rising_from_silence_and_decaying(build):
    manifest = load_manifest(build)
    stingers = {}
    for name, mood in manifest["moods"].items():
        entry = mood["stingers"]["hit"]
        assert entry["file"] == f"stingers/{name}/hit.wav"
        audio = read_audio(build / entry["file"])[0]
        assert len(audio) == mood["bar_samples"] and np.isfinite(audio).all()
        assert 0 < np.abs(audio).max() < 1.0
        assert np.abs(audio[0]).max() == 0.0  # mixed over the music from silence: no click
        tenth = len(audio) // 10
        first, last = (float(np.sqrt(np.mean(x ** 2))) for x in (audio[:tenth], audio[-tenth:]))
        assert 20 * np.log10(last / first) < -40  # it rings out within its bar
        stingers[name] = audio
    # Each continues its own mood's music, not one shared sound.
    n = min(len(a) for a in stingers.values())
    assert not np.allclose(stingers["battle"][:n], stingers["boss"][:n])


def test_the_stem_player_mixes_a_stinger_from_the_next_beat(build):
    manifest = load_manifest(build)
    blocks = 2 * manifest["moods"]["battle"]["bar_samples"] // 1000  # the whole stinger, and after it
    assert_stinger_mixed_from_the_next_beat(build, "battle", "hit", blocks, atol=1e-6)


def test_the_stem_player_plays_a_loop_without_layers(build):
    from adaptive_music.stems.player import StemPlayer

    manifest = load_manifest(build)
    player = StemPlayer(build, mood="battle", block_size=4800)
    loop = read_audio(build / manifest["moods"]["battle"]["loop"]["file"])[0]
    heard = np.concatenate([player.next_block() for _ in range(2)])
    np.testing.assert_allclose(heard, loop[: len(heard)], atol=1e-6)


def test_a_rerun_through_the_python_api_renders_nothing(build, checkpoint, monkeypatch):
    from adaptive_music.stems import build_stems, musicgen

    before = load_manifest(build)
    spec = StemsSpec(moods=(("battle", "fast epic battle drums"), ("boss", "fast tense boss fight")),
                     stingers=(("hit", "low brass hit"),), bars=1, seed=2, transition_bars=1, format="wav",
                     backend="musicgen", model=str(checkpoint))
    monkeypatch.setattr(musicgen, "generate_codes", lambda *a, **k: pytest.fail("an unchanged build generated music"))
    again = build_stems(spec, build)
    assert again["files_written"] == 0 and again["files_unchanged"] == 6  # 2 loops, 2 stingers, 2 transitions
    assert again["moods"] == before["moods"] and again["transitions"] == before["transitions"]


def test_a_failing_backend_is_one_line_and_exit_code_1(checkpoint, tmp_path):
    damaged = damage(build_family(tmp_path / "damaged", "mono"), "battle")
    (tmp_path / "map.toml").write_text(MAP)
    out = tmp_path / "music"
    result = subprocess.run([sys.executable, "-m", "adaptive_music.cli.main", "stems", "--backend", "musicgen",
                             "--model", str(damaged), "--moods", str(tmp_path / "map.toml"), "--out", str(out),
                             "--format", "wav", "--bars", "1", "--quiet"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("adaptive-music")]
    assert len(ours) == 1 and "stems: the musicgen backend failed: FloatingPointError" in ours[0]
    assert not (out / "manifest.json").exists()
    assert not list(out.rglob("*.wav"))  # the first mood failed: nothing, and no other backend's audio


def test_bad_musicgen_input_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "map.toml").write_text(MAP)
    args = ["stems", "--moods", str(tmp_path / "map.toml"), "--out", str(tmp_path / "music")]
    assert main(args + ["--backend", "musicgen", "--model", str(tmp_path / "nowhere")]) == 2
    assert main(args + ["--model", str(tmp_path)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "nowhere" in errors[0] and "--backend musicgen" in errors[1]
    assert not (tmp_path / "music").exists()
    with pytest.raises(StemsError, match="no score"):
        StemsSpec(moods=(("a", "calm"),), backend="musicgen", midi=True)


def test_loop_points_land_on_the_music_bar_lines():
    """A pattern that repeats every bar, with its downbeat 0.3 bar in: the grid finds the downbeat,
    and the cut loop wraps exactly as the music went on."""
    rng = np.random.default_rng(0)
    bar = 9600
    pattern = (rng.standard_normal((bar, 2)) * 0.05).astype(np.float32)
    pattern[:200] += np.hanning(400)[200:, None].astype(np.float32)  # an accent on each downbeat
    audio = np.roll(np.tile(pattern, (12, 1)), int(0.3 * bar), axis=0)
    assert abs(bar_phase(audio, SR, bar) - int(0.3 * bar)) <= SR // 200
    choice = find_loop(audio, SR, bar, 4 * bar, 480, bar)
    assert abs(choice.start % bar - int(0.3 * bar)) <= SR // 200 and choice.similarity > 0.99
    loop = cut_loop(audio, choice.start, 4 * bar, 480)
    np.testing.assert_allclose(np.concatenate([loop, loop])[4 * bar - 50 : 4 * bar + 50],
                               audio[choice.start + 4 * bar - 50 : choice.start + 4 * bar + 50], atol=1e-5)
