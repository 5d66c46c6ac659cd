"""The Soundtrack API against a clocked WAV sink: real time, real files, no sound card needed."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from adaptive_music.audio import wav
from adaptive_music.playback.device import ClockedFileSink
from adaptive_music.playback.feed import Coalescer, render_controls
from adaptive_music.playback.soundtrack import Soundtrack

SR = 48000
PREROLL = 4800  # the player's 0.1 s of silence before the music


def read_wav(path) -> np.ndarray:
    audio, rate = wav.read_wav(path)
    assert rate == SR and audio.shape[1] == 2
    return audio


@pytest.mark.parametrize("process", [True, False], ids=["generator-process", "generator-thread"])
def test_clocked_sink_plays_in_real_time_and_records_the_offline_render(tmp_path, process):
    path = tmp_path / "out.wav"
    seconds = 3.0
    music = Soundtrack(seed=2, mood="calm exploration", sink=ClockedFileSink(path), seconds=seconds,
                       process=process, record_controls=True)
    with music:
        began = time.monotonic()
        time.sleep(1.0)
        music.set_mood("tense chase, fast drums", transition="beat")
        music.stinger("item_pickup")
        assert music.wait(timeout=10)
        took = time.monotonic() - began
        status = music.status()
    assert 2.8 < took < 4.0  # paced by the clock, not as fast as it can go
    assert status["underruns"] == 0 and status["error"] is None
    assert [c.method for c in music.controls()] == ["set_mood", "stinger"]

    recorded = read_wav(path)
    frames = int(seconds * SR)
    reference = render_controls(music.spec.build(), music.controls(), frames)
    np.testing.assert_array_equal(recorded[:PREROLL], 0)
    np.testing.assert_array_equal(recorded[PREROLL : PREROLL + frames], reference)  # float32: exact


def test_beat_callbacks_fire_when_heard_off_the_audio_thread_and_a_failing_one_is_dropped(caplog):
    beats, bars, failures = [], [], []

    def on_beat(beat):
        beats.append((time.monotonic(), threading.current_thread().name, beat))

    def broken(beat):
        failures.append(beat)
        raise RuntimeError("game code bug")

    with caplog.at_level(logging.ERROR, logger="adaptive_music.playback.beats"):
        with Soundtrack(seed=4, mood="upbeat festival, fast drums", sink=ClockedFileSink(None),
                        seconds=4.0) as music:
            music.on_beat(on_beat)
            music.on_beat(broken)
            music.on_bar(bars.append)
            assert music.wait(timeout=10)
            status = music.status()
    assert len(beats) >= 6
    assert len(failures) == 1  # called once, then disabled
    assert "game code bug" in caplog.text and "disabled" in caplog.text
    # Fired on the dispatcher thread, when the sink plays the beat.
    assert {name for _, name, _ in beats} == {"adaptive-music-beats"}
    late = [fired - beat.time for fired, _, beat in beats]
    assert np.median(np.abs(late)) < 0.005 and max(late) < 0.05  # bench/playback.py measures it closely
    # Beats are in order, a beat period apart, and the bar callbacks get the downbeats.
    samples = [b.sample for _, _, b in beats]
    gaps = np.diff(samples)
    assert gaps.max() - gaps.min() <= 1  # a steady grid, to the sample
    assert gaps.mean() == pytest.approx(60.0 / beats[0][2].bpm * SR, rel=1e-3)  # bpm is rounded to 0.1
    assert [b.sample for b in bars] == [b.sample for _, _, b in beats if b.beat == 0]
    assert status["bar"] == beats[-1][2].bar and status["beat"] == beats[-1][2].beat


@pytest.mark.parametrize("process", [True, False], ids=["generator-process", "generator-thread"])
def test_transition_callbacks_fire_as_a_ramped_change_starts_and_ends_being_heard(tmp_path, caplog, process):
    path = tmp_path / "change.wav"
    heard, failures = [], []

    def on_transition(transition):
        heard.append((time.monotonic(), threading.current_thread().name, transition))

    def broken(transition):
        failures.append(transition)
        raise RuntimeError("game code bug")

    with caplog.at_level(logging.ERROR, logger="adaptive_music.playback.beats"):
        with Soundtrack(seed=4, mood="calm exploration", sink=ClockedFileSink(path), seconds=2.0,
                        process=process) as music:
            music.on_transition(on_transition)
            music.on_transition(broken)
            time.sleep(0.3)
            asked = time.monotonic()
            music.set_mood("tense chase, fast drums", ramp=1.0)
            assert music.wait(timeout=10)
    assert [(t.phase, t.text, t.intensity) for _, _, t in heard] == [
        ("start", "tense chase, fast drums", 0.5), ("end", "tense chase, fast drums", 0.5)]
    (_, _, start), (_, _, end) = heard
    assert len(failures) == 1 and "game code bug" in caplog.text and "disabled" in caplog.text
    # Fired off the audio thread as the playhead reaches each, the ramp's length apart.
    assert {name for _, name, _ in heard} == {"adaptive-music-beats"}
    assert max(abs(fired - t.time) for fired, _, t in heard) < 0.05
    assert asked < start.time < asked + 0.5
    assert end.sample - start.sample == pytest.approx(SR, abs=1)
    assert end.time - start.time == pytest.approx(1.0, abs=0.005)
    # ``start`` is where the change is heard: until there the recording is the music without it.
    recorded = read_wav(path)[PREROLL:]
    unchanged = render_controls(music.spec.build(), [], 2 * SR)
    at = start.sample
    np.testing.assert_array_equal(recorded[:at], unchanged[:at])
    assert not np.array_equal(recorded[at : at + SR // 10], unchanged[at : at + SR // 10])


def test_pause_holds_the_playhead_and_resume_goes_on(tmp_path):
    path = tmp_path / "paused.wav"
    with Soundtrack(seed=5, sink=ClockedFileSink(path), seconds=2.0) as music:
        time.sleep(0.8)
        music.pause()
        time.sleep(0.1)  # the fade-out and what the sink had taken already
        held = music.status()["playhead"]
        time.sleep(0.7)
        assert music.status()["paused"] and abs(music.status()["playhead"] - held) < 0.01
        music.resume()
        assert music.wait(timeout=10)
        status = music.status()
    assert status["playhead"] == pytest.approx(2.0) and status["underruns"] == 0
    recorded = read_wav(path)
    # The sink kept running through the pause, so the file is longer than the music by about the pause.
    assert len(recorded) / SR > 2.0 + 0.1 + 0.6
    silent = np.all(recorded[PREROLL:] == 0, axis=1)
    assert silent.sum() / SR > 0.6  # the held part is silence


def test_mood_calls_faster_than_blocks_coalesce_and_nothing_queues():
    with Soundtrack(seed=6, sink=ClockedFileSink(None), seconds=1.5, record_controls=True) as music:
        for i in range(300):
            music.set_mood(f"calm exploration {i % 7}", transition="bar")
            music.set_intensity(i / 300)
        music.set_mood("tense chase, fast drums")
        for _ in range(50):
            music.stinger("hit")
        assert music.wait(timeout=10)
    applied = music.controls()
    moods = [c for c in applied if c.method == "set_mood"]
    assert moods[-1].args == ("tense chase, fast drums", "now", 0.0)
    assert len(moods) < 50  # hundreds of calls, a few applied
    assert len([c for c in applied if c.method == "stinger"]) < 50
    assert music.status()["mood"] == "tense chase, fast drums"


@pytest.mark.parametrize("process", [True, False], ids=["generator-process", "generator-thread"])
def test_calls_made_before_start_apply_from_the_first_block(process):
    music = Soundtrack(seed=1, sink=ClockedFileSink(None), seconds=0.3, process=process, record_controls=True)
    music.set_mood("tense chase, fast drums", transition="bar")
    music.set_intensity(0.8)
    with music:
        assert music.wait(timeout=10)
    assert [(c.position, c.method) for c in music.controls()] == [(0, "set_mood"), (0, "set_intensity")]


def test_coalescer_keeps_the_latest_call_of_each_kind_and_a_few_stingers():
    calls = Coalescer()
    for i in range(1000):
        calls.put("set_intensity", (i / 1000, 0.5))
        calls.put("stinger", ("hit",))
    calls.put("set_mood", ("storm", "bar", 1.0))
    taken = calls.take()
    assert taken[:2] == [("set_intensity", (0.999, 0.5)), ("set_mood", ("storm", "bar", 1.0))]
    assert taken[2:] == [("stinger", ("hit",))] * 8
    assert calls.take() == []


def test_bad_control_input_raises_and_changes_nothing():
    music = Soundtrack(seed=0, mood="calm exploration", sink=ClockedFileSink(None))
    for bad in (1.5, -0.1, math.nan, "loud"):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            music.set_intensity(bad)
    with pytest.raises(ValueError, match="now, beat, bar"):
        music.set_mood("storm", transition="soon")
    with pytest.raises(ValueError, match="ramp"):
        music.set_mood("storm", ramp=-1)
    with pytest.raises(ValueError):
        music.stinger("")
    with pytest.raises(ValueError, match="latency"):
        ClockedFileSink(None, latency=0)
    with pytest.raises(ValueError, match="subtype"):
        ClockedFileSink(None, subtype="mp3")
    with pytest.raises(ValueError, match="ahead"):
        Soundtrack(sink=ClockedFileSink(None), ahead=0)
    status = music.status()
    assert (status["mood"], status["intensity"]) == ("calm exploration", 0.5)


def test_without_a_sound_device_the_error_points_to_render():
    # No PulseAudio server to reach: on a machine without sound cards (CI) PortAudio finds no device.
    code = (
        "import sounddevice\n"
        "if len(sounddevice.query_devices()):\n"
        "    print('HAS_DEVICES')\n"
        "    raise SystemExit\n"
        "from adaptive_music.playback.soundtrack import Soundtrack\n"
        "from adaptive_music.playback.device import NoAudioDeviceError\n"
        "try:\n"
        "    Soundtrack()\n"
        "except NoAudioDeviceError as exc:\n"
        "    print('ERROR', exc)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/pulse", "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    if "HAS_DEVICES" in out.stdout:
        pytest.skip("this machine has sound cards, so there is no way to have no device")
    assert "ERROR" in out.stdout, out.stderr
    assert "adaptive-music render" in out.stdout
    # The play command says the same, and fails.
    play = subprocess.run([sys.executable, "-m", "adaptive_music.cli.play", "--mood", "calm", "--seconds", "1"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert play.returncode == 1
    assert "adaptive-music render" in play.stderr


def test_a_busy_game_thread_does_not_make_the_output_late(tmp_path):
    # The output plays in the generator's process, so its thread never waits for this process's GIL.
    stop = threading.Event()

    def game_logic() -> None:
        x = 0
        while not stop.is_set():
            for i in range(20000):
                x += i * i % 7

    busy = threading.Thread(target=game_logic, daemon=True)
    busy.start()
    try:
        # ahead 0.3 s: room for the generator on a loaded 2-core machine; what is tested is the output.
        with Soundtrack(seed=3, sink=ClockedFileSink(None, blocksize=240, latency=0.02), seconds=3.0,
                        ahead=0.3) as music:
            assert music.wait(timeout=15)
            status = music.status()
    finally:
        stop.set()
        busy.join()
    assert (status["underruns"], status["output_underflows"], status["error"]) == (0, 0, None)
