"""Offline stems: seamless loops, layers, transitions, file metadata, manifest,
MIDI and Godot resources, through the CLI and the Python API, on real files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from adaptive_music.audio.wav import read_wav
from adaptive_music.cli.main import main
from adaptive_music.stems import build_stems, load_manifest
from adaptive_music.stems.files import read_audio
from adaptive_music.stems.manifest import SCHEMA_PATH
from adaptive_music.stems.seams import loop_seam
from adaptive_music.stems.spec import StemsSpec
from stems_checks import assert_stinger_mixed_from_the_next_beat

soundfile = pytest.importorskip("soundfile")

MAP = """
[moods]
title = "slow majestic orchestral theme with choir, hopeful and wide"
combat = "fast driving drums and brass, urgent and heroic"
village = "gentle folk guitar and flute, cosy and bright"

[stingers]
danger = "low brass hit, sudden threat"
item = "short sparkling chime"
"""


def _read(path: Path) -> np.ndarray:
    return read_audio(path)[0]


@pytest.fixture(scope="module")
def ogg_build(tmp_path_factory) -> Path:
    """Three moods, 8 bars, OGG, through the CLI."""
    root = tmp_path_factory.mktemp("stems_ogg")
    (root / "map.toml").write_text(MAP)
    out = root / "music"
    assert main(["stems", "--moods", str(root / "map.toml"), "--out", str(out), "--format", "ogg",
                 "--bars", "8", "--seed", "3", "--quiet", "--preview", str(root / "sheet.png")]) == 0
    return out


@pytest.fixture(scope="module")
def wav_build(tmp_path_factory) -> Path:
    """Two moods, WAV, one-bar transitions, in two worker processes, through the Python API."""
    out = tmp_path_factory.mktemp("stems_wav") / "music"
    spec = StemsSpec(moods=(("explore", "calm pastoral strings and flute, open fields, curious and warm"),
                            ("boss", "epic dark orchestral battle music, choir and heavy drums")),
                     bars=8, seed=1, transition_bars=1, format="wav")
    build_stems(spec, out, jobs=2)
    return out


def test_manifest_validates_and_hashes_match(ogg_build):
    jsonschema = pytest.importorskip("jsonschema")
    manifest = load_manifest(ogg_build)
    jsonschema.validate(manifest, json.loads(SCHEMA_PATH.read_text()))
    assert set(manifest["moods"]) == {"title", "combat", "village"}
    assert len(manifest["transitions"]) == 6
    assert manifest["render"]["seed"] == 3 and manifest["render"]["bars"] == 8
    files = []
    for mood in manifest["moods"].values():
        files += [mood["loop"], mood["midi"], *mood["layers"], *mood["stingers"].values()]
        assert set(mood["stingers"]) == {"danger", "item"}
        assert all(0.0 <= layer["enters_at"] <= 1.0 for layer in mood["layers"])
    files += manifest["transitions"]
    import hashlib

    for entry in files:
        data = (ogg_build / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert (ogg_build.parent / "sheet.png").stat().st_size > 10_000


def test_layers_enter_by_intensity(ogg_build):
    manifest = load_manifest(ogg_build)
    combat = {layer["name"]: layer["enters_at"] for layer in manifest["moods"]["combat"]["layers"]}
    assert combat["harmony"] == 0.0  # pads always play
    assert combat["melody"] >= 0.4  # the lead needs intensity 0.42 in the composer
    assert set(combat) <= {"harmony", "bass", "arpeggio", "melody", "drums"}


def test_every_loop_and_layer_wraps_seamlessly(ogg_build):
    """The wrap's jump is within the loop's own 99.9th percentile and its flux within the loop's
    range: exactly for the rendered audio (what WAV files hold), and for the decoded OGG files
    within the codec's error (Vorbis is least accurate at a stream's first and last samples)."""
    from adaptive_music.models.procedural import ProceduralModel
    from adaptive_music.stems.render import ScoreRenderer
    from adaptive_music.stems.roles import ROLES
    from adaptive_music.stems.score import compose_score

    manifest = load_manifest(ogg_build)
    model = ProceduralModel()
    renderer = ScoreRenderer(model)
    for name, mood in manifest["moods"].items():
        score = compose_score(name, mood["text"], intensity=1.0, bars=8, seed=3, model=model)
        rendered = {"loop": renderer.loop(score)}
        rendered |= {layer["name"]: renderer.loop(score, ROLES[layer["name"]]) for layer in mood["layers"]}
        for part, audio in rendered.items():
            seam = loop_seam(audio, 48000, mood["bar_samples"])
            assert seam.within, (name, part, seam.as_dict())
        for entry in [mood["loop"], *mood["layers"]]:
            audio = _read(ogg_build / entry["file"])
            assert len(audio) == mood["loop"]["loop_length"] == mood["bars"] * mood["bar_samples"]
            seam = loop_seam(audio, 48000, mood["bar_samples"])
            assert seam.flux <= seam.flux_max, (entry["file"], seam.as_dict())
            assert seam.jump <= 1.25 * max(seam.jump_p999, seam.bar_line_jump), (entry["file"], seam.as_dict())
            assert np.abs(audio).max() < 1.0


def test_the_loop_is_its_notes_played_on_and_on():
    """Played three times in one continuous render, the loop's notes give, in the middle
    pass, the loop itself: tails are folded exactly where a second pass hears them."""
    from adaptive_music.models.procedural import ProceduralModel
    from adaptive_music.models.procedural.tokens import Note, pack_note, unpack_notes
    from adaptive_music.stems.render import ScoreRenderer
    from adaptive_music.stems.score import compose_score

    model = ProceduralModel()
    score = compose_score("boss", "epic dark orchestral battle music, choir and heavy drums", intensity=1.0,
                          bars=8, seed=2, model=model)
    loop = ScoreRenderer(model).loop(score)
    n, spf = score.loop_samples, score.samples_per_frame
    rows, cols, samples = score.onsets()
    inside = (samples >= score.loop_start) & (samples < score.loop_end)
    fields = unpack_notes(score.tokens[rows[inside], cols[inside]])
    tokens = np.zeros((3 * n // spf + 2, score.tokens.shape[1]), np.int64)
    for k in range(3):
        for i, (col, sample) in enumerate(zip(cols[inside], samples[inside])):
            frame, offset = divmod(int(sample) - score.loop_start + k * n, spf)
            note = Note(*(int(fields[f][i]) for f in ("pitch", "velocity", "duration")), offset,
                        int(fields["instrument"][i]), int(fields["brightness"][i]))
            if not tokens[frame, col]:
                tokens[frame, col] = pack_note(note)
    played = ScoreRenderer(model).wet(score, tokens, 0, 3 * n)[n : 2 * n]
    error_db = 20 * np.log10(np.abs(played - loop).max() / np.abs(loop).max())
    assert error_db < -80, error_db


def test_every_loop_file_is_in_the_loudness_window(wav_build):
    # A loop is the full-intensity mix: mastered half way only, a battle's loop was at -13 LUFS.
    from adaptive_music.audio.measures import integrated_loudness

    for mood in load_manifest(wav_build)["moods"].values():
        audio, rate = read_audio(wav_build / mood["loop"]["file"])
        assert abs(integrated_loudness(audio, rate) + 16) <= 2, mood["loop"]["file"]


def test_a_quiet_mood_is_mastered_into_the_loudness_window_as_the_live_stream_is():
    from adaptive_music.audio.measures import integrated_loudness
    from adaptive_music.stems.render import PEAK_CEILING, master_gain

    rng = np.random.default_rng(4)
    mix = rng.standard_normal((48000 * 4, 2)) * 0.01
    mix *= 10 ** ((-24.0 - integrated_loudness(mix, 48000)) / 20)
    gain = master_gain(mix, 48000, [float(np.abs(mix).max())])
    assert integrated_loudness(mix * gain, 48000) == pytest.approx(-17.0, abs=0.01)  # half way would be -20
    assert master_gain(mix, 48000, [0.8]) == pytest.approx(PEAK_CEILING / 0.8)  # a part's peak caps the gain


def test_layers_sum_to_the_mix(wav_build):
    manifest = load_manifest(wav_build)
    for mood in manifest["moods"].values():
        mix = _read(wav_build / mood["loop"]["file"])
        total = sum(_read(wav_build / layer["file"]) for layer in mood["layers"])
        error_db = 20 * np.log10(np.abs(total - mix).max() / np.abs(mix).max())
        assert error_db < -60, error_db
        assert mood["layer_sum"]["layers_db"] < -60 and mood["layer_sum"]["loop_db"] < -60


def test_ogg_layers_sum_to_the_mix_as_closely_as_the_codec_holds_the_mix(ogg_build):
    """Vorbis codes each file on its own, so no lossy build sums within -60 dB sample for sample
    (Vorbis's error on the loop file itself is about -20 dB of its peak). What a game hears at full
    intensity, the decoded layers summed, must be as close to the rendered mix as the decoded loop
    file is; the manifest records both figures, measured on the files."""
    from adaptive_music.models.procedural import ProceduralModel
    from adaptive_music.stems.render import ScoreRenderer
    from adaptive_music.stems.score import compose_score

    manifest = load_manifest(ogg_build)
    model = ProceduralModel()
    for name, mood in manifest["moods"].items():
        score = compose_score(name, mood["text"], intensity=1.0, bars=8, seed=3, model=model)
        mix = ScoreRenderer(model).loop(score) * np.float32(10 ** (mood["gain_db"] / 20))
        peak = np.abs(mix).max()
        total = sum(_read(ogg_build / layer["file"]) for layer in mood["layers"])
        layers_db = 20 * np.log10(np.abs(total - mix).max() / peak)
        loop_db = 20 * np.log10(np.abs(_read(ogg_build / mood["loop"]["file"]) - mix).max() / peak)
        assert layers_db <= loop_db + 1.0, (name, layers_db, loop_db)
        assert mood["layer_sum"] == pytest.approx({"layers_db": layers_db, "loop_db": loop_db}, abs=0.1)


def test_transitions_start_and_end_on_bar_lines(ogg_build, wav_build):
    for folder, bars in ((ogg_build, 2), (wav_build, 1)):
        manifest = load_manifest(folder)
        moods = manifest["moods"]
        assert {(t["from"], t["to"]) for t in manifest["transitions"]} == {
            (a, b) for a in moods for b in moods if a != b}
        for t in manifest["transitions"]:
            a, b = moods[t["from"]], moods[t["to"]]
            expected = [0, a["bar_samples"], a["bar_samples"] + b["bar_samples"]] if bars == 2 else [0, b["bar_samples"]]
            assert t["bar_lines"] == expected and t["samples"] == expected[-1] and t["bars"] == bars
            audio = _read(folder / t["file"])
            assert len(audio) == t["samples"]
            # Into B's loop the step is as small as B's own sample-to-sample steps.
            loop_b = _read(folder / b["loop"]["file"])
            joined = np.concatenate([audio, loop_b])
            assert loop_seam(loop_b, 48000, b["bar_samples"]).within
            jump_in = np.abs(joined[len(audio)] - joined[len(audio) - 1]).max()
            assert jump_in <= np.percentile(np.abs(np.diff(loop_b, axis=0)).max(axis=1), 99.9)


def test_transitions_leave_their_loop_without_a_jump(ogg_build, wav_build):
    for folder in (ogg_build, wav_build):
        manifest = load_manifest(folder)
        moods = manifest["moods"]
        for t in manifest["transitions"]:
            a = moods[t["from"]]
            audio, loop_a = _read(folder / t["file"]), _read(folder / a["loop"]["file"])
            jump_out = np.abs(audio[0] - loop_a[-1]).max()
            # Out of A's loop the transition starts on a downbeat: held to the loops' own rule.
            seam_a = loop_seam(loop_a, 48000, a["bar_samples"])
            assert jump_out <= max(seam_a.jump_p999, 1.02 * seam_a.bar_line_jump), t["file"]


@pytest.mark.skipif(shutil.which("vorbiscomment") is None, reason="needs vorbis-tools")
def test_ogg_loop_tags_read_back_with_vorbiscomment(ogg_build):
    manifest = load_manifest(ogg_build)
    mood = manifest["moods"]["combat"]
    out = subprocess.run(["vorbiscomment", "-l", str(ogg_build / mood["loop"]["file"])],
                         capture_output=True, text=True, check=True).stdout
    tags = dict(line.split("=", 1) for line in out.splitlines())
    assert tags["LOOPSTART"] == "0"
    assert int(tags["LOOPLENGTH"]) == mood["loop"]["loop_length"]
    assert float(tags["BPM"]) == pytest.approx(mood["bpm"], abs=1e-3)
    assert tags["METER"] == mood["meter"] and tags["BARS"] == "8"


@pytest.mark.skipif(shutil.which("vorbiscomment") is None or shutil.which("ogginfo") is None, reason="needs vorbis-tools")
def test_vorbis_comment_writer_keeps_the_audio_and_the_pages_valid(tmp_path):
    """Our comment writer: every page's CRC as libogg computes it, the same decoded samples, the
    comments as vorbiscomment reads them, and pages ogginfo accepts, also when a long comment
    needs more header pages (every audio page renumbered)."""
    from adaptive_music.stems.vorbis_comments import ogg_crc, set_vorbis_comments

    path = tmp_path / "x.ogg"
    noise = (np.random.default_rng(1).standard_normal((96000, 2)) * 0.1).astype(np.float32)
    soundfile.write(str(path), noise, 48000, format="OGG", subtype="VORBIS")
    data = path.read_bytes()
    pages = [m.start() for m in re.finditer(b"OggS", data)]
    for start, end in zip(pages, pages[1:] + [len(data)]):
        page = data[start:end]
        assert ogg_crc(page[:22] + bytes(4) + page[26:]) == int.from_bytes(page[22:26], "little")
    before = soundfile.read(str(path), dtype="float32")[0]
    for comments in ({"LOOPSTART": "0", "LOOPLENGTH": "96000", "TITLE": "village drums \u00e9"},
                     {"LOOPSTART": "5", "LONG": "x" * 70000}):
        set_vorbis_comments(path, comments)
        assert np.array_equal(soundfile.read(str(path), dtype="float32")[0], before)
        listed = subprocess.run(["vorbiscomment", "-l", str(path)], capture_output=True, text=True, check=True).stdout
        assert dict(line.split("=", 1) for line in listed.splitlines()) == comments
        info = subprocess.run(["ogginfo", str(path)], capture_output=True, text=True)
        assert info.returncode == 0 and "WARNING" not in info.stdout + info.stderr, info.stdout + info.stderr


@pytest.mark.skipif(shutil.which("sndfile-info") is None, reason="needs sndfile-programs")
def test_wav_smpl_and_acid_chunks_read_back_with_libsndfile(wav_build):
    manifest = load_manifest(wav_build)
    mood = manifest["moods"]["boss"]
    info = subprocess.run(["sndfile-info", str(wav_build / mood["loop"]["file"])],
                          capture_output=True, text=True, check=True).stdout
    loop = re.search(r"Loop Count\s*:\s*1\s*\n\s*Cue ID.*Start\s*:\s*(\d+)\s+End\s*:\s*(\d+)", info)
    assert loop, info
    assert (int(loop.group(1)), int(loop.group(2))) == (0, mood["loop"]["loop_length"] - 1)
    assert re.search(r"Tempo\s*:\s*([\d.]+)", info).group(1).startswith(f"{mood['bpm']:.3f}"[:5])
    assert re.search(r"Beats\s*:\s*(\d+)", info).group(1) == str(8 * mood["beats_per_bar"])


def test_midi_parses_with_mido(ogg_build):
    mido = pytest.importorskip("mido")
    manifest = load_manifest(ogg_build)
    mood = manifest["moods"]["combat"]
    song = mido.MidiFile(ogg_build / mood["midi"]["file"])
    names = [next(m.name for m in track if m.type == "track_name") for track in song.tracks]
    assert names == ["tempo"] + [layer["name"] for layer in mood["layers"]]
    tempo = next(m.tempo for m in song.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(mood["bpm"], rel=1e-5)
    assert song.length == pytest.approx(mood["loop"]["loop_length"] / 48000, abs=0.6)
    drums = song.tracks[names.index("drums")]
    assert any(m.type == "note_on" and m.channel == 9 for m in drums)
    t = manifest["transitions"][0]
    mido.MidiFile(ogg_build / t["midi"]["file"])  # parses, with its two tempos
    tempos = [m for m in mido.MidiFile(ogg_build / t["midi"]["file"]).tracks[0] if m.type == "set_tempo"]
    assert len(tempos) == 2


def _tres(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(ext_resource id -> path, property -> value) of a Godot text resource."""
    text = path.read_text()
    assert text.startswith("[gd_resource type=")
    ext = dict((i, p) for p, i in re.findall(r'\[ext_resource type="AudioStream" path="([^"]+)" id="(\d+)"\]', text))
    body = text.split("[resource]\n", 1)[1]
    props = dict(re.findall(r"^([A-Za-z_0-9/]+) = (.*)$", body, re.M))
    return ext, props


def test_godot_resources_reference_existing_files(ogg_build):
    manifest = load_manifest(ogg_build)
    ext, props = _tres(ogg_build / "music.tres")
    assert all((ogg_build / p).is_file() for p in ext.values())
    assert int(props["clip_count"]) == 3 + 6 == len(ext)
    for i in range(int(props["clip_count"])):
        assert props[f"clip_{i}/stream"] == f'ExtResource("{i + 1}")'
    text = (ogg_build / "music.tres").read_text()
    keys = re.findall(r"Vector2i\((\d+), (\d+)\): \{([^}]*)\}", text)
    assert len(keys) == 6
    for a, b, fields in keys:
        assert '"from_time": 2' in fields and '"to_time": 1' in fields and '"use_filler_clip": true' in fields
        filler = int(re.search(r'"filler_clip": (\d+)', fields).group(1))
        t = manifest["transitions"][filler - 3]
        moods = list(manifest["moods"])
        assert (moods.index(t["from"]), moods.index(t["to"])) == (int(a), int(b))
    ext, props = _tres(ogg_build / "combat_layers.tres")
    assert int(props["stream_count"]) == len(manifest["moods"]["combat"]["layers"]) == len(ext)
    assert all((ogg_build / p).is_file() for p in ext.values())
    imp = (ogg_build / "loops" / "combat.ogg.import").read_text()
    assert 'importer="oggvorbisstr"' in imp and "loop=true" in imp and "bar_beats=4" in imp


def test_rerun_skips_unchanged_files_and_repairs_changed_ones(wav_build, monkeypatch):
    from adaptive_music.stems import build

    manifest = load_manifest(wav_build)
    spec = StemsSpec(moods=tuple((n, m["text"]) for n, m in manifest["moods"].items()),
                     bars=8, seed=1, transition_bars=1, format="wav")
    with monkeypatch.context() as patch:
        patch.setattr(build, "render_mood", lambda *a: pytest.fail("an unchanged mood was rendered again"))
        again = build_stems(spec, wav_build)
    assert again["files_written"] == 0 and again["files_unchanged"] > 10
    assert again["moods"] == manifest["moods"] and again["transitions"] == manifest["transitions"]
    victim = wav_build / manifest["transitions"][0]["file"]
    victim.write_bytes(b"garbage")
    repaired = build_stems(spec, wav_build)
    assert repaired["files_written"] == 1
    assert len(_read(victim)) == manifest["transitions"][0]["samples"]
    assert not list(wav_build.rglob("*.tmp*"))


@pytest.mark.parametrize("change, message", [
    (["--bars", "0"], "--bars"),
    (["--transition", "title:nowhere"], "unknown mood 'nowhere'"),
    (["--format", "mp3"], "unknown format"),
    (["--out", "/etc/hostname/music"], "not a folder"),
    (["--moods", "BADMAP"], "unknown table"),
])
def test_bad_input_is_one_clear_error_before_rendering(tmp_path, capsys, change, message):
    (tmp_path / "map.toml").write_text(MAP)
    (tmp_path / "bad.toml").write_text(MAP + "\n[sounds]\nx = 1\n")
    args = {"--moods": str(tmp_path / "map.toml"), "--out": str(tmp_path / "music"), "--bars": "8"}
    for flag, value in zip(change[::2], change[1::2]):
        args[flag] = str(tmp_path / "bad.toml") if value == "BADMAP" else value
    argv = ["stems"] + [x for kv in args.items() for x in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "music").exists()


def test_long_ogg_loop_writes_in_blocks(tmp_path):
    """libsndfile's Vorbis encoder crashes on a 64 s single write (16 bars at 60 bpm); blocks don't."""
    from adaptive_music.stems.files import Timing, write_audio

    audio = (np.random.default_rng(0).standard_normal((48000 * 64, 2)) * 0.1).astype(np.float32)
    write_audio(tmp_path / "long.ogg", audio, 48000, "ogg", Timing(60.0, 4, 16, 0, len(audio)), "long")
    assert soundfile.info(str(tmp_path / "long.ogg")).frames == len(audio)


def test_stem_player_switches_on_bar_lines_and_mixes_layers_by_intensity(wav_build):
    from adaptive_music.stems.player import StemPlayer

    manifest = load_manifest(wav_build)
    player = StemPlayer(wav_build, mood="explore", intensity=1.0, block_size=4800)
    explore, boss = manifest["moods"]["explore"], manifest["moods"]["boss"]
    loop = _read(wav_build / explore["loop"]["file"])
    first = np.concatenate([player.next_block() for _ in range(3)])
    assert 20 * np.log10(np.abs(first - loop[: len(first)]).max() / np.abs(loop).max()) < -60
    player.set_mood("boss")
    blocks = [player.next_block() for _ in range(40)]
    (at, what), = [e for e in player.events if e[1].startswith("transition")]
    assert what == "transition explore->boss" and at % explore["bar_samples"] == 0 and at >= len(first)
    t = manifest["transitions"][0]
    (at_loop, _), = [e for e in player.events if e[1] == "loop boss"]
    assert at_loop == at + t["samples"]
    heard = np.concatenate([first] + blocks)
    assert np.array_equal(heard[at : at + 100], _read(wav_build / t["file"])[:100])
    # Intensity 0: only the layers that enter at 0 play.
    player.set_intensity(0.0)
    quiet = np.concatenate([player.next_block() for _ in range(20)])[-4800:]
    base = [layer for layer in boss["layers"] if layer["enters_at"] == 0.0]
    start = (player.position - 4800 - at_loop) % boss["loop"]["loop_length"]
    expected = sum(_read(wav_build / layer["file"])[start : start + 4800] for layer in base)
    assert np.abs(quiet - expected).max() < 1e-3


def test_play_stems_through_the_playback_stage_to_a_clocked_file(wav_build, tmp_path):
    from adaptive_music.cli.main import build_parser
    from adaptive_music.cli.play_stems import run_stems
    from adaptive_music.playback.device import ClockedFileSink
    from adaptive_music.stems.player import StemPlayer

    args = build_parser().parse_args(["play", "--stems", str(wav_build), "--mood", "boss", "--seconds", "1.5",
                                      "--intensity", "1"])
    assert run_stems(args, output=ClockedFileSink(tmp_path / "heard.wav")) == 0
    heard = read_wav(tmp_path / "heard.wav")[0]
    offline = StemPlayer(wav_build, mood="boss", intensity=1.0)
    expected = np.concatenate([offline.next_block() for _ in range(72)])[:72000]
    start = int(np.flatnonzero(np.abs(heard).max(axis=1) > 0)[0])
    first = int(np.flatnonzero(np.abs(expected).max(axis=1) > 0)[0])
    np.testing.assert_allclose(heard[start : start + 60000], expected[first : first + 60000], atol=1e-6)


@pytest.mark.skipif(shutil.which("mcs") is None or shutil.which("mono") is None, reason="needs mono-mcs")
def test_unity_player_schedule_compiles_and_matches_the_manifest(wav_build, tmp_path):
    """The Unity player's plain-C# part (manifest parsing, PlayScheduled times, layer volumes) under mono."""
    root = Path(__file__).resolve().parent.parent / "bridge" / "unity"
    # The stem player's own sources and the C# core's JSON reader it uses (as the Unity package references it).
    sources = sorted(str(p) for p in (root / "Runtime" / "Stems").glob("*.cs")) + [
        str(root.parent / "dotnet" / "Runtime" / "JsonReader.cs")]
    exe = tmp_path / "check.exe"
    subprocess.run(["mcs", "-langversion:7", f"-out:{exe}", *sources, str(root / "Tests~" / "Stems" / "ScheduleCheck.cs")],
                   check=True, capture_output=True)
    manifest = load_manifest(wav_build)
    explore, boss = manifest["moods"]["explore"], manifest["moods"]["boss"]
    loop_start, now, lead, intensity = 10.0, 13.3, 0.2, 0.3
    out = subprocess.run(["mono", str(exe), str(wav_build / "manifest.json"), "explore", "boss", str(loop_start),
                          str(now), str(lead), str(intensity)], check=True, capture_output=True, text=True).stdout
    lines = {line.split(" ", 1)[0] + (" " + line.split()[1] if line.startswith("layer") else ""): line.split()
             for line in out.splitlines()}
    assert lines["moods"] == ["moods", "2", "transitions", "2"]
    bar = explore["bar_samples"] / 48000
    expected_bar = loop_start + np.ceil((now + lead - loop_start) / bar - 1e-9) * bar
    assert float(lines["next_bar"][1]) == pytest.approx(expected_bar, abs=1e-9)
    t = next(t for t in manifest["transitions"] if (t["from"], t["to"]) == ("explore", "boss"))
    assert lines["transition"][1] == t["file"]
    assert float(lines["transition"][2]) == pytest.approx(expected_bar, abs=1e-9)
    assert float(lines["transition"][3]) == pytest.approx(expected_bar + t["samples"] / 48000, abs=1e-9)
    for layer in boss["layers"]:
        assert lines[f"layer {layer['name']}"][2] == ("1" if layer["enters_at"] <= intensity else "0")


def test_ray_runs_the_render_jobs_on_a_local_instance(tmp_path):
    """``--ray ADDRESS`` hands the jobs to Ray; here a local instance the test starts and stops."""
    ray = pytest.importorskip("ray")
    spec = StemsSpec(moods=(("calm", "calm ambient pads"), ("chase", "fast tense chase, drums")),
                     bars=2, seed=5, format="wav", midi=False)
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20,
             log_to_driver=False)
    try:
        done: list[str] = []
        on_ray = build_stems(spec, tmp_path / "ray", ray_address="local", progress=done.append)
    finally:
        ray.shutdown()
    local = build_stems(spec, tmp_path / "local")
    assert sorted(done) == ["calm", "calm ->", "chase", "chase ->"]
    for rel in ["loops/calm.wav", "loops/chase.wav", "transitions/calm__chase.wav"]:
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    assert on_ray["moods"]["chase"]["loop"]["sha256"] == local["moods"]["chase"]["loop"]["sha256"]


def test_stem_player_plays_a_stinger_from_the_next_beat(ogg_build):
    assert_stinger_mixed_from_the_next_beat(ogg_build, "combat", "danger", 200, atol=1e-5)
