"""Every MusicGen family through every entry point, as users with real checkpoints meet it.

Each family is a tiny random checkpoint with the published structure (musicgen_tiny.FAMILIES),
saved with save_pretrained and its processor, and driven through ``render`` (with a mood
timeline and with a real recording as prompt), live playback into the clocked file sink, and
``serve`` with a bridge client over real ZeroMQ.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from adaptive_music.audio.wav import read_wav
from adaptive_music.bridge import Client
from musicgen_tiny import build_family
from test_bridge_serve import _log, served

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "adaptive_music.cli.main"]
SR = 48000
FAMILIES = ["mono", "stereo", "melody"]
CALM, BATTLE = "calm forest night", "epic battle drums"


def recording(mood: str, name: str) -> Path:
    """A real track from immich-memories-music (PyPI, MIT)."""
    immich = pytest.importorskip("immich_memories_music")
    return Path(immich.__file__).parent / "tracks" / mood / name


def theme(name: str) -> str | None:
    """The melody family plays variations of one theme; the others take none."""
    return str(recording("happy", "happy_acoustic_1.opus")) if name == "melody" else None


def theme_args(name: str) -> list[str]:
    return ["--melody", theme(name)] if theme(name) else []


@pytest.fixture(scope="module", params=FAMILIES)
def family(request, tmp_path_factory):
    """(family name, checkpoint folder)."""
    return request.param, build_family(tmp_path_factory.mktemp("families") / request.param, request.param)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=ROOT, timeout=300)


def stop(process) -> tuple[int, str, str]:
    """SIGTERM ``serve``; its exit code, stdout and log. A MusicGen step in progress
    finishes first, which takes long on a loaded machine."""
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    return process.returncode, out, _log(process)


def check_channels(name: str, audio: np.ndarray) -> None:
    """48 kHz stereo for every family: mono checkpoints spread to both channels."""
    assert audio.shape[1] == 2 and np.isfinite(audio).all() and np.abs(audio).max() > 1e-3
    if name == "stereo":
        assert not np.array_equal(audio[:, 0], audio[:, 1])
    else:
        np.testing.assert_array_equal(audio[:, 0], audio[:, 1])


def test_render_follows_a_mood_timeline(family, tmp_path):
    from adaptive_music.engine.stream import render
    from adaptive_music.models.musicgen import MusicgenModel

    name, checkpoint = family
    changed = tmp_path / "changed.wav"
    result = cli("render", "--backend", "musicgen", "--model", str(checkpoint), *theme_args(name), "--mood", CALM,
                 "--seconds", "3", "--at", "1.5", BATTLE, "--transition", "now", "--ramp", "0", "--format", "float32",
                 "--quiet", "-o", str(changed))
    assert result.returncode == 0, result.stderr
    b, rate = read_wav(changed)
    model = MusicgenModel.load(str(checkpoint), melody=theme(name))
    a = render(model, CALM, 3.0).audio  # the same without the change
    assert rate == SR and a.shape == b.shape == (3 * SR, 2)
    check_channels(name, b)
    # Until the first hop's end (1 s, less the 40 ms crossfade held back) both are the same
    # music; after the change at 1.5 s the new mood is heard.
    np.testing.assert_array_equal(a[: int(0.95 * SR)], b[: int(0.95 * SR)])
    after = slice(2 * SR, 3 * SR)
    assert np.sqrt(np.mean((a[after] - b[after]) ** 2)) > 0.15 * np.sqrt(np.mean(a[after] ** 2))


def test_live_playback_records_the_offline_render_of_its_controls(family, tmp_path):
    from adaptive_music.playback.device import ClockedFileSink
    from adaptive_music.playback.feed import render_controls
    from adaptive_music.playback.soundtrack import Soundtrack

    name, checkpoint = family
    path, seconds = tmp_path / "live.wav", 3.0
    # Pre-buffered, as warm-up does for a backend slower than real time (a loaded 2-core CI
    # machine can make even this model slower); the controls arrive mid-stream, after the
    # first second is made, and playback then runs on the sink's clock.
    music = Soundtrack(backend="musicgen", model=str(checkpoint), melody=theme(name), mood=CALM,
                       sink=ClockedFileSink(path), seconds=seconds, ahead=seconds, record_controls=True)
    starting = threading.Thread(target=music.start)
    starting.start()
    try:
        while music.playback.buffered < 1.0 and starting.is_alive():
            time.sleep(0.02)
        music.set_mood(BATTLE)
        music.set_intensity(0.9)
        starting.join()
        assert music.wait(timeout=60)
        status = music.status()
    finally:
        music.close()
    assert status["error"] is None and status["underruns"] == 0
    assert (status["backend"], status["fallback"]) == ("musicgen", None)
    frames = int(seconds * SR)
    controls = music.controls()
    assert [c.method for c in controls] == ["set_mood", "set_intensity"]
    assert SR <= controls[0].position and controls[-1].position < frames
    recorded, rate = read_wav(path)
    reference = render_controls(music.spec.build(), music.controls(), frames)
    preroll = 4800  # the player's 0.1 s of silence
    np.testing.assert_array_equal(recorded[:preroll], 0)
    np.testing.assert_array_equal(recorded[preroll : preroll + frames], reference)
    check_channels(name, reference)


def test_serve_plays_musicgen_throughout_while_a_client_steers_it(family, tmp_path):
    name, checkpoint = family
    out = tmp_path / "served.wav"
    # --min-rtf: a loaded machine must not turn this into a fallback test. The melody
    # family takes its theme from the mood map.
    moods = tmp_path / "moods.toml"
    moods.write_text((f'melody = "{theme(name)}"\n' if theme(name) else "") + '[moods]\nboss = "epic battle drums"\n')
    args = ("--backend", "musicgen", "--model", str(checkpoint), "--moods", str(moods), "--min-rtf", "0.001",
            "--no-audio", "--record", str(out))
    with served(*args) as (process, commands, events):
        with Client(commands, events, timeout=30) as client:
            assert client.hello()["backend"] == "musicgen"
            seen = [client.status()]
            client.set_mood("boss", quantize="now")
            time.sleep(0.6)
            seen.append(client.status())
            client.set_param("intensity", 0.2)
            time.sleep(0.6)
            seen.append(client.status())
        code, stdout, log = stop(process)
    assert code == 0, log
    assert [(s["backend"], s["fallback"]) for s in seen] == [("musicgen", None)] * 3
    assert seen[-1]["mood"] == BATTLE and seen[-1]["intensity"] == pytest.approx(0.2)
    assert seen[-1]["playhead"] > seen[0]["playhead"] + 1.0  # (underruns are the machine's speed, not checked)
    assert "failed" not in log and "instead" not in log
    audio, rate = read_wav(out)
    assert rate == SR and len(audio) >= 1.2 * SR
    check_channels(name, audio[4800:])


def test_render_continues_a_real_recording_from_where_it_ends(family, tmp_path):
    from adaptive_music.engine.resample import StreamResampler
    from adaptive_music.engine.stream import render
    from adaptive_music.models.base import Mood
    from adaptive_music.models.musicgen import MusicgenModel, encode_prompt_audio

    prompt = recording("calm", "calm_acoustic_1.opus")
    name, checkpoint = family
    out = tmp_path / "continued.wav"
    result = cli("render", "--backend", "musicgen", "--model", str(checkpoint), *theme_args(name), "--prompt-audio",
                 str(prompt), "--mood", CALM, "--seconds", "2", "--format", "float32", "--quiet", "-o", str(out))
    assert result.returncode == 0, result.stderr
    audio, rate = read_wav(out)
    assert rate == SR and audio.shape == (2 * SR, 2)
    check_channels(name, audio)

    # The same through the Python API: the prompt is the recording's last 10 s, as codes.
    model = MusicgenModel.load(str(checkpoint), melody=theme(name))
    codes = encode_prompt_audio(model, prompt, model.default_config().context_seconds)
    assert codes.shape == (500, model.num_codebooks)
    state = model.initial_state_from_codes(codes)
    np.testing.assert_array_equal(render(model, Mood(CALM), 2.0, initial_state=state).audio, audio)
    # It starts where the prompt ends: its first 40 ms (the crossfade) are the prompt's last
    # two frames (EnCodec is non-causal, so the stream decodes them together with the new
    # frames that follow; alone, they sound nearly, not exactly, the same).
    lead = model.decode(codes[-2:], state.replace(tokens=codes[:-2]))
    resampler = StreamResampler(32000, SR, lead.shape[1])
    lead = np.concatenate([resampler.process(lead), resampler.flush()])[: int(0.03 * SR)]
    heard = audio[: len(lead), : lead.shape[1]]
    assert np.corrcoef(lead.ravel(), heard.ravel())[0, 1] > 0.8
