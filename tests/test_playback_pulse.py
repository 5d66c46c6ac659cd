"""Real playback through a PulseAudio null sink, recorded from its monitor.

The sink is clocked like a sound card, so this checks what a listener would
hear: the captured audio equals an offline render of the same seed and
control calls, sample for sample. A busy machine may still starve the
device now and then (a late audio thread, a late sound server); the
capture then holds a hole of silence and the music resumes after it. So
the comparison walks the capture: every stretch between holes equals the
render, nothing is lost or repeated, and every hole is at most one device
buffer long (measured in the capture, not taken from a counter). One test
starves the device on purpose and checks the hole and the beat times after it.
The device latency is the issue's 20 ms; the generator runs a generous
0.25 s ahead so that a busy 2-core CI machine can't starve the ring (the
tight settings are measured by bench/playback.py).
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from adaptive_music.playback.capture import CaptureMismatch, PulseCapture, align, walk_holes
from adaptive_music.playback.device import DeviceNotFoundError, output_devices
from adaptive_music.playback.feed import render_controls
from adaptive_music.playback.soundtrack import Soundtrack

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "scripts" / "pulse-test-sink.sh"
RUNTIME_DIR = os.environ.get("ADAPTIVE_MUSIC_PULSE_DIR", "/tmp/adaptive-music-pulse")


@pytest.fixture(scope="module")
def pulse_sink():
    """A running null sink named ``testsink``: started here (and stopped after) unless it already runs."""
    if shutil.which("pulseaudio") is None or shutil.which("parec") is None:
        pytest.skip("PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)")
    started = subprocess.run([str(SCRIPT), "status"]).returncode != 0
    if started:
        subprocess.run([str(SCRIPT), "start"], check=True, stdout=subprocess.DEVNULL)
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = RUNTIME_DIR  # where the ALSA pulse plugin and parec find the daemon
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
        if started:
            subprocess.run([str(SCRIPT), "stop"], check=True)


def test_walk_holes_finds_inserted_silence_and_refuses_other_differences():
    rng = np.random.default_rng(0)
    reference = rng.uniform(-0.5, 0.5, (10000, 2)).astype(np.float32)
    heard = np.concatenate([reference[:3000], np.zeros((300, 2), np.float32), reference[3000:7000],
                            np.zeros((50, 2), np.float32), reference[7000:]])
    assert walk_holes(heard, reference) == [(3000, 300, 0), (7000, 50, 0)]
    skipping = np.concatenate([reference[:3000], np.zeros((300, 2), np.float32), reference[3051:]])
    assert walk_holes(skipping, reference) == [(3000, 300, 51)]
    with pytest.raises(CaptureMismatch, match="not by a hole"):
        walk_holes(skipping, reference, most_skipped=50)
    # A ring underrun: the last frame fades out, silence, the music fades back in.
    fading = np.concatenate([reference[:3000], reference[2999] * np.linspace(1, 0, 64)[:, None],
                             np.zeros((200, 2), np.float32), reference[3000:3064] * np.linspace(0, 1, 64)[:, None],
                             reference[3064:]]).astype(np.float32)
    assert walk_holes(fading, reference) == [(3000, 64 + 200 + 63, 63)]  # the fade's last frame is the music
    # The music comes back for a moment between two holes.
    stutter = np.concatenate([reference[:3000], np.zeros((300, 2), np.float32), reference[3000:3040],
                              np.zeros((100, 2), np.float32), reference[3040:]])
    assert walk_holes(stutter, reference) == [(3000, 300, 0), (3040, 100, 0)]
    garbled = reference.copy()
    garbled[5000] += 0.1
    with pytest.raises(CaptureMismatch, match="neither silence nor a fade"):
        walk_holes(garbled, reference)
    with pytest.raises(CaptureMismatch, match="ends"):
        walk_holes(reference[:9000], reference)


def test_playback_through_pulse_matches_offline_render(pulse_sink):
    try:
        check_playback_matches_offline_render()
    except OneHoleTooLong as exc:  # the machine stalled us past a whole buffer: once may be bad luck
        logging.getLogger(__name__).warning("retrying once: %s", exc)
        check_playback_matches_offline_render()


class OneHoleTooLong(AssertionError):
    """A hole longer than one device buffer, which the device or the ring reported."""


def check_playback_matches_offline_render():
    seconds, seed, mood = 12.0, 7, "calm exploration, soft strings"
    capture = PulseCapture("testsink.monitor")
    capture.start()
    try:
        with Soundtrack(seed=seed, mood=mood, device="pulse", latency=0.02, ahead=0.25, seconds=seconds,
                        record_controls=True) as music:
            # Steer it while it plays: every kind of control call, at whatever
            # stream position the threads happen to reach.
            while music.status()["playhead"] < 3.0:
                time.sleep(0.05)
            music.set_mood("tense chase, fast drums", transition="now")
            time.sleep(2.0)
            music.set_intensity(0.9)
            music.stinger("item_pickup")
            time.sleep(2.0)
            music.set_mood("calm exploration, soft strings", transition="bar", ramp=1.0)
            assert music.wait(timeout=seconds + 10)
            status = music.status()
    finally:
        captured = capture.stop()

    controls = music.controls()
    assert [c.method for c in controls] == ["set_mood", "set_intensity", "stinger", "set_mood"]
    frames = int(seconds * 48000)
    reference = render_controls(music.spec.build(), controls, frames)

    assert status["error"] is None
    assert status["host"] == "pulseaudio"
    start = align(captured, reference)
    # Sample-aligned and sample-exact (float32 passes through the sink unchanged), between holes.
    holes = walk_holes(captured[start:], reference)
    buffer = round(0.02 * 48000)  # the latency asked for: this stream's buffer does not widen
    too_long = [h for h in holes if h[1] > buffer]
    # A hole is the device running dry (its clock saw it) or the generator falling behind (a ring
    # underrun, heard as one buffer of silence): either is a stall of this machine, not a mismatch.
    if too_long and (status["holes"] or status["underruns"]):
        raise OneHoleTooLong(f"holes {holes} (frames) with a {buffer}-frame buffer; status {status}")
    assert not too_long, f"holes {holes} longer than the {buffer}-frame buffer, which nothing reported"


def stall(pid: int, seconds: float) -> None:
    """Stop process ``pid`` for ``seconds``, as a machine that does not run it would."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))  # so that our own sleep is on time
    try:
        os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.kill(pid, signal.SIGCONT)
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs real-time scheduling to starve the device by a set time")
def test_a_starved_device_costs_at_most_one_buffer_widens_it_and_the_beats_stay_on_time(pulse_sink):
    try:
        check_a_starved_device()
    except OneHoleTooLong as exc:  # the machine stalled us again beside our own stall: once may be bad luck
        logging.getLogger(__name__).warning("retrying once: %s", exc)
        check_a_starved_device()


def check_a_starved_device():
    seconds, latency = 8.0, 0.02
    stalled_for = 2 * latency
    # A capture with a relaxed latency does not hold the sink's latency down: a sink left
    # without a stream goes back to its long default, as a desktop's does.
    capture = PulseCapture("testsink.monitor", latency=0.05)
    capture.start()
    beats = []
    try:
        with Soundtrack(seed=3, mood="tense chase, fast drums", device="pulse", latency=latency,
                        max_latency=3 * latency, ahead=0.25, seconds=seconds) as music:
            music.on_beat(beats.append)
            while music.status()["playhead"] < 3.0:
                time.sleep(0.01)
            stalled_at = time.monotonic()
            # The audio thread (all of the playback process) misses the device by up to one buffer.
            stall(music.feed._proc.pid, stalled_for)
            assert music.wait(timeout=seconds + 10)
            status = music.status()
    finally:
        captured = capture.stop()

    frames = int(seconds * 48000)
    reference = render_controls(music.spec.build(), [], frames)
    start = align(captured, reference)
    holes = walk_holes(captured[start:], reference)
    assert holes, "starving the device left no hole"
    # The stall outlasted the device buffer by up to one buffer; recovering may cost one buffer
    # more, so the hole is at most the stall (the ALSA pulse plugin's reconnection cost 2 s).
    longest = max(silence for _, silence, _ in holes)
    if longest > round(stalled_for * 48000):
        raise OneHoleTooLong(f"holes {holes} (frames) after a {stalled_for}-s stall; status {status}")
    assert status["holes"] >= 1 and status["lost_seconds"] >= 0.005, status
    # The underflow widened the buffer by one step (more steps if the machine stalled us again),
    # and the beats below were heard on time through the wider buffer too.
    assert latency < status["latency"] <= 3 * latency, status

    # Each beat is heard when its event said it would be, before the hole and after it.
    def heard_at(sample: int) -> float:
        return capture.played_at(start + sample + sum(silence - skipped for at, silence, skipped in holes
                                                      if at <= sample))

    error = {b.sample: b.time - heard_at(b.sample) for b in beats}
    before = [e for b, e in zip(beats, error.values()) if b.time < stalled_at - 0.3]
    after = [e for b, e in zip(beats, error.values()) if b.time > stalled_at + 0.5]
    assert len(before) >= 3 and len(after) >= 3, beats
    # One constant offset (how the capture's clock sits against the sink's) fits all of them.
    spread = np.ptp(before + after)
    assert spread < 0.004, f"beat time errors {np.round(np.array(before + after) * 1000, 1)} ms"


def test_widening_and_narrowing_the_buffer_while_playing_leaves_no_hole(pulse_sink):
    from adaptive_music.playback.pulse import PulseStream

    sr, period = 48000, 240
    # Noise after a second of silence: it can be found in the capture at one place only.
    noise = np.random.default_rng(5).uniform(-0.25, 0.25, (5 * sr, 2)).astype(np.float32)
    reference = np.concatenate([np.zeros((sr, 2), np.float32), noise])
    written, lags = [0], []

    def deliver(out: np.ndarray, heard_at: float) -> None:
        at = written[0]
        out[:] = reference[at:at + len(out)] if at + len(out) <= len(reference) else 0
        written[0] += len(out)
        lags.append((at, heard_at - time.monotonic()))

    capture = PulseCapture("testsink.monitor")
    capture.start()
    stream = PulseStream(deliver, sr, 2, 0.02, period)
    try:
        stream.start()
        for at, latency in ((2.0, 0.06), (3.5, 0.02)):
            while written[0] < at * sr:
                time.sleep(0.005)
            stream.request_latency(latency)
        while written[0] < len(reference) + sr // 2:
            time.sleep(0.01)
    finally:
        stream.abort()
        captured = capture.stop()

    holes = walk_holes(captured[align(captured, reference):], reference)
    lag = {k: np.median([lag for at, lag in lags if lo * sr <= at < hi * sr]) for k, (lo, hi) in
           {"before": (1.0, 2.0), "wide": (2.5, 3.5), "after": (4.5, 5.5)}.items()}
    # The stream stayed continuous through both changes (a stall of this machine may still cost
    # a hole of at most the buffer), and the latency the stream reports followed the buffer.
    assert all(silence <= 0.06 * sr for _, silence, _ in holes), holes
    assert lag["wide"] - lag["before"] > 0.015 and lag["wide"] - lag["after"] > 0.015, lag
    assert stream.latency == 0.02


@pytest.mark.skipif(os.geteuid() != 0, reason="needs real-time scheduling to starve the device by a set time")
def test_a_widened_buffer_refills_after_a_stall_without_running_the_ring_dry(pulse_sink):
    # `play`'s settings: 50 ms generated ahead, a 20-ms buffer that may widen to 100 ms. Once it is
    # wider than the ring's 50 ms, the server asks for more after a stall than the ring holds; the
    # write waits for the generator instead of playing a ring underrun (46-55 of them here before).
    seconds, stalled_for = 12.0, 0.06
    capture = PulseCapture("testsink.monitor", latency=0.05)
    capture.start()
    try:
        with Soundtrack(seed=3, mood="tense chase, fast drums", device="pulse", latency=0.02, max_latency=0.1,
                        ahead=0.05, seconds=seconds) as music:
            while music.status()["playhead"] < 2.0:
                time.sleep(0.01)
            for _ in range(6):  # each stall of the playback process widens the buffer one step
                stall(music.feed._proc.pid, stalled_for)
                time.sleep(1.2)
            assert music.wait(timeout=seconds + 10)
            status = music.status()
    finally:
        captured = capture.stop()

    assert status["latency"] >= 0.08, status
    assert status["underruns"] == 0, status
    reference = render_controls(music.spec.build(), [], int(seconds * 48000))
    # The music resumes where it stopped: the server drops nothing we wrote. (A rewinding sink's
    # monitor would show skips here that the sink never played; the test sink does not rewind.)
    holes = walk_holes(captured[align(captured, reference):], reference, most_skipped=240)
    assert all(silence <= stalled_for * 48000 for _, silence, _ in holes), holes


def test_unknown_device_lists_the_devices_that_exist(pulse_sink):
    with pytest.raises(DeviceNotFoundError) as err:
        Soundtrack(device="no such speakers", sink=None)
    message = str(err.value)
    assert "no such speakers" in message and "pulse" in message
    assert all(name in message for name in output_devices())


def test_a_lost_device_is_reopened_and_playback_goes_on(pulse_sink, caplog):
    with caplog.at_level(logging.WARNING, logger="adaptive_music.playback.device"):
        with Soundtrack(seed=3, device="pulse", latency=0.02) as music:
            while music.status()["playhead"] < 1.0:
                time.sleep(0.05)
            # The sound server goes away under the stream, and comes back.
            subprocess.run([str(SCRIPT), "stop"], check=True)
            time.sleep(1.5)
            subprocess.run([str(SCRIPT), "start"], check=True, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while music.playback.restarts == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert music.playback.restarts >= 1
            resumed = music.status()["playhead"]
            time.sleep(2.5)  # PulseAudio may hold a fresh stream for up to about 2 s
            assert music.status()["playhead"] > resumed + 0.3
            assert music.status()["error"] is None
    assert "restarting the stream" in caplog.text and "restarted" in caplog.text


def test_play_stems_plays_on_the_device_with_the_adaptive_buffer(pulse_sink, tmp_path):
    from adaptive_music.stems import StemsSpec, build_stems

    build = tmp_path / "stems"
    build_stems(StemsSpec(moods=(("explore", "calm pastoral strings"),), bars=2, seed=1, transition_bars=1,
                          format="wav"), build, jobs=1)
    play = subprocess.run(
        [sys.executable, "-m", "adaptive_music.cli.play", "--stems", str(build), "--mood", "explore",
         "--device", "pulse", "--seconds", "2", "--max-latency", "60"],
        input="", capture_output=True, text=True, timeout=60)
    assert play.returncode == 0, play.stderr
    assert re.search(r"played 2\.0 s of .*, \d+ underruns, \d+ device underflows; mood: explore", play.stderr), \
        play.stderr


def test_play_command_plays_on_the_device_and_takes_moods_typed_on_stdin(pulse_sink):
    play = subprocess.run(
        [sys.executable, "-m", "adaptive_music.cli.play", "--device", "pulse", "--mood", "calm exploration",
         "--seconds", "3", "--max-latency", "60"],
        input="qwxz zzkq\ntense chase, fast drums\n", capture_output=True, text=True, timeout=60)
    assert play.returncode == 0, play.stderr
    assert "not a usable mood" in play.stderr  # a bad line is refused and playback goes on
    assert re.search(r"played 3.0 s, \d+ underruns, \d+ device underflows \(\d+ ms of silence in \d+ holes, "
                     r"device buffer (20|40|60) ms\); "
                     r"mood: tense chase, fast drums", play.stderr), play.stderr
