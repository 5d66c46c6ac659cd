"""The engine output over real sockets: a simulated engine pulls the music through the bridge.

The server, the soundtrack and its generator run in this process (so that the
control calls the soundtrack applied, with their stream positions, can be
rendered again offline); the engine talks to them over loopback ZeroMQ with
real msgpack, on a connection of its own, as a game engine would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable

import numpy as np
import pytest

from adaptive_music.bridge import BridgeError, Client, EngineStream, Server
from adaptive_music.engine.resample import StreamResampler
from adaptive_music.models.procedural import ProceduralModel
from adaptive_music.mood.maps import EXAMPLE, load_mood_map
from adaptive_music.playback import EngineOutput, Soundtrack
from adaptive_music.playback.feed import render_controls

ANY_PORT = "tcp://127.0.0.1:*"
MOODS = load_mood_map(EXAMPLE)
RING_RATE = 48000  # the procedural backend's own rate: the generator does not resample
PULL = 1024


@pytest.fixture
def music():
    # The engines here pull as fast as the server answers, so the ring is always nearly empty
    # and a slow generator step (a stinger, a new mood) makes a pull wait; a wall-clock wait of
    # 2 s is a fraction of a second of their accelerated stream time. (The default, 50 ms, is
    # for an engine pulling in real time, with the ring `ahead` seconds full.)
    with Soundtrack(seed=7, mood="calm exploration, soft strings", sink=EngineOutput(wait=2.0),
                    record_controls=True) as live:
        yield live


@pytest.fixture
def server(music):
    with Server(music, commands=ANY_PORT, events=ANY_PORT, moods=MOODS) as running:
        yield running


@pytest.fixture
def client(server):
    with Client(server.commands_endpoint, server.events_endpoint, timeout=10) as c:
        yield c


def reference(music, rate: int, channels: int, frames: int, history_from: int | None = None):
    """What the engine should have pulled: an offline render of the same seed and controls, through
    the same resampler and channel mix, and the render's beats and transitions (ring samples)."""
    generator = music.spec.build()
    ring_frames = -(-(frames + 64) * RING_RATE // rate) + 64
    audio = render_controls(generator, music.controls(), ring_frames)
    if channels == 1:
        audio = audio.mean(axis=1, keepdims=True, dtype=np.float32)
    out = StreamResampler(RING_RATE, rate, channels).process(audio)[:frames]
    return out, generator.take_markers(), generator.take_transitions()


def at_rate(sample: int, rate: int) -> int:
    """A ring sample's position in a stream at ``rate`` (nearest frame)."""
    return (sample * rate * 2 + RING_RATE) // (2 * RING_RATE)


@dataclasses.dataclass
class SimulatedEngine:
    """An engine's audio path: its audio callback takes ``callback`` frames each period from a
    local ring, which a feeder refills with ``audio_pull`` of ``PULL`` frames whenever it holds
    less than the engine's own buffer plus two pulls."""

    stream: EngineStream
    rate: int
    callback: int
    buffer: int = 2048
    time: float = 0.0
    """The simulated true time, in seconds."""
    level: int = 0
    consumed: int = 0

    def __post_init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.positions: list[int] = []

    def run(self, seconds: float, ppm: float, at: list[tuple[float, Callable[[], object]]]) -> None:
        """Play ``seconds`` of true time with the engine's clock ``ppm`` parts per million fast
        (negative: slow); call each ``action()`` of ``at`` once the true time reaches its time."""
        period = self.callback / (self.rate * (1 + ppm * 1e-6))
        end = self.time + seconds
        due = sorted((a for a in at if self.time <= a[0] < end), key=lambda a: a[0])
        while self.time < end:
            while self.level < self.buffer + 2 * PULL:
                position, pcm = self.stream.pull(PULL)
                self.positions.append(position)
                self.blocks.append(pcm)
                self.level += len(pcm)
            self.level -= self.callback  # the audio callback plays these
            self.consumed += self.callback
            self.time += period
            while due and due[0][0] <= self.time:
                due.pop(0)[1]()

    @property
    def pulled(self) -> np.ndarray:
        return np.concatenate(self.blocks)


@pytest.mark.parametrize("rate, callback", [(44100, 441), (48000, 1024)])
def test_a_drifting_engine_clock_pulls_a_gapless_stream_equal_to_the_offline_render(music, server, client,
                                                                                    rate, callback):
    """120 s of stream: the engine's clock runs 200 ppm fast for 60 s, then 200 ppm slow for 60 s,
    with mood, intensity, event and stinger changes along the way.

    The simulated clock is not paced by the wall clock: the engine pulls as fast as the server
    answers (procedural generation is far faster than real time: each rate took 18 to 55 s of
    wall time on a shared 2-core VM under a load of 12, not two minutes). Nothing on the server depends on wall time
    except how long a pull may wait for the generator (see the ``music`` fixture), so the stream
    it hands out is the one a real-time engine would get.
    """
    stream = client.engine_stream(rate)
    assert (stream.sample_rate, stream.channels, stream.position, stream.max_frames) == (rate, 2, 0, 8192)
    buffered = []
    changes = [
        (5.0, lambda: client.set_mood("tense chase, fast drums")),
        (17.3, lambda: client.set_param("intensity", 0.9)),
        (31.0, lambda: client.set_mood("calm exploration, soft strings", quantize="bar", ramp=2.0)),
        (44.4, lambda: client.stinger("item_pickup")),
        (58.0, lambda: client.event("enter_dungeon")),  # a mood and an intensity
        (66.6, lambda: client.set_mood("boss", quantize="beat")),
        (90.0, lambda: client.set_param("intensity", 0.2)),
        (111.0, lambda: client.set_mood("victory fanfare", quantize="now", ramp=1.0)),
    ]
    changes += [(t + 0.5, lambda: buffered.append(client.status()["buffered"])) for t in range(3, 120, 7)]
    with client.subscribe("beat", "mood", "status") as events:
        assert events.recv(timeout=5) is not None  # subscribed: a status event came through
        engine = SimulatedEngine(stream, rate, callback)
        engine.run(60.0, +200.0, changes)
        engine.run(60.0, -200.0, changes)
        status = client.status()
        heard = []
        while (event := events.recv(timeout=0.5)) is not None:
            if event.topic != "status":
                heard.append(event)
    stream.close()

    pulled = engine.pulled
    # Contiguous: every block starts where the last one ended, from 0.
    assert engine.positions == list(range(0, len(pulled), PULL))
    assert status["position"] == len(pulled) and status["pulls"] == len(engine.positions)
    assert status["output"] == "engine" and status["engine_rate"] == rate
    assert status["underruns"] == 0 and status["error"] is None
    # The engine consumed 120 s at its own rate, whatever its drift, and pulled only what it needed.
    assert engine.consumed == pytest.approx(120 * rate, abs=callback)
    assert engine.level < 2048 + 3 * PULL
    # The server stayed no more than `ahead` (and one generator block) ahead of the pulls.
    assert max(buffered) <= music.ahead + 1024 / RING_RATE + 1e-9

    assert [c.method for c in music.controls()] == [
        "set_mood", "set_intensity", "set_mood", "stinger", "set_mood", "set_intensity", "set_mood",
        "set_intensity", "set_mood"]
    expected, markers, transitions = reference(music, rate, 2, len(pulled))
    np.testing.assert_array_equal(pulled, expected)  # float32, sample for sample

    # Beats and mood transitions come at their positions in the pulled stream.
    beats = [(e.data["bar"], e.data["beat"], e.data["sample"]) for e in heard if e.topic == "beat"]
    assert beats == [(m.bar, m.beat, at_rate(m.sample, rate)) for m in markers if at_rate(m.sample, rate) < len(pulled)]
    moods = [(e.data["phase"], e.data["text"], e.data["sample"]) for e in heard if e.topic == "mood"]
    assert moods == [(t.phase, t.mood.text, at_rate(t.sample, rate)) for t in transitions
                     if at_rate(t.sample, rate) < len(pulled)]
    assert len(moods) >= 2 * 6
    assert all(e.data["seconds"] == e.data["sample"] / rate for e in heard)


def test_pause_pulls_silence_and_resume_goes_on_where_the_music_stopped(music, server, client):
    stream = client.engine_stream(48000)
    before = np.concatenate([stream.pull(PULL)[1] for _ in range(20)])
    client.pause()
    paused = np.concatenate([stream.pull(PULL)[1] for _ in range(10)])
    client.resume()
    after = np.concatenate([stream.pull(PULL)[1] for _ in range(20)])
    assert stream.position == 50 * PULL
    np.testing.assert_array_equal(paused[128:], 0.0)  # a 128-frame fade, then silence
    expected, _, _ = reference(music, 48000, 2, len(before) + len(after))
    np.testing.assert_array_equal(before, expected[: len(before)])
    # The ring held its place: after the fade-in, the music goes on from the next frame.
    np.testing.assert_array_equal(after[128:], expected[len(before) + 128 :])
    status = client.status()
    assert status["underruns"] == 0 and status["position"] == 50 * PULL


def test_a_new_rate_and_channel_count_go_on_from_the_next_frame_without_a_step(music, server, client):
    stream = client.engine_stream(48000)
    first = np.concatenate([stream.pull(PULL)[1] for _ in range(5)])
    with client.engine_stream(44100, channels=1) as mono:  # takes the stream over, e.g. a new device
        assert mono.position == 5 * PULL
        second = np.concatenate([mono.pull(441)[1] for _ in range(20)])
        with pytest.raises(BridgeError, match="another connection sent the latest audio_open"):
            stream.pull(PULL)
    stream.close()
    with client.engine_stream(32000) as back:  # and from a resampled rate to another
        assert back.position == 5 * PULL + 20 * 441
        third = np.concatenate([back.pull(320)[1] for _ in range(10)])
    # No step where the rate changed: the music moves no more between two frames there than around it.
    steps = np.abs(np.diff(np.concatenate([second[-100:, 0], third[:100].mean(axis=1)])))
    assert steps[99] < 3 * max(steps[:99].max(), steps[100:].max())

    ring = render_controls(music.spec.build(), [], 5 * PULL + 20 * 441 * 48000 // 44100 + 64)
    np.testing.assert_array_equal(first, ring[: 5 * PULL])
    # From frame 5 * PULL on, resampled to 44.1 kHz mono, with the frames before it as history.
    ring_mono = ring.mean(axis=1, keepdims=True, dtype=np.float32)
    go_on = StreamResampler(48000, 44100, 1, history=ring_mono[: 5 * PULL]).process(ring_mono[5 * PULL :])
    np.testing.assert_array_equal(second, go_on[: len(second)])
    assert np.abs(np.diff(np.concatenate([first.mean(axis=1)[-50:], second[:50, 0]]))).max() < 0.05


def test_engine_output_checks_its_input_and_gives_clear_errors(music):
    engine = music.engine
    with pytest.raises(RuntimeError, match="open the stream before pulling"):
        engine.pull(PULL)
    for rate, channels, message in [(7999, 2, "sample_rate must be an integer from 8000"),
                                    (44100.0, 2, "sample_rate must be an integer"),
                                    (48000, 3, "channels must be 1 or 2")]:
        with pytest.raises(ValueError, match=message):
            engine.open(rate, channels)
    engine.open(48000, 2)
    for frames in (0, 8193, 1.5):
        with pytest.raises(ValueError, match="frames must be an integer from 1 to 8192"):
            engine.pull(frames)
    assert engine.pull(8192)[0] == 0 and engine.pull(1)[0] == 8192


class StallingModel(ProceduralModel):
    """The procedural backend, made to stall on demand like a neural backend slower than real time."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = threading.Event()

    def generate(self, *args, **kwargs):
        if self.stall.is_set():
            time.sleep(0.5)
        return super().generate(*args, **kwargs)


def test_a_pull_waits_for_a_generator_that_is_behind_and_counts_an_underrun_only_when_it_cannot_keep_up():
    model = StallingModel()
    output = EngineOutput(wait=0.05)
    with Soundtrack(model, seed=1, mood="calm exploration", sink=output, ahead=0.01) as live:
        output.open(48000, 2)
        # Far more than `ahead`: the pull waits while the generator makes it.
        position, block = output.pull(8192)
        assert position == 0 and len(block) == 8192 and live.status()["underruns"] == 0
        np.testing.assert_array_equal(block, render_controls(live.spec.build(), [], 8192))
        model.stall.set()  # now it cannot keep up: the pull waits, then fades to silence
        started = time.monotonic()
        position, block = output.pull(8192)
        waited = time.monotonic() - started
        status = live.status()
    assert position == 8192 and len(block) == 8192
    assert 0.05 <= waited < 0.45  # the longer of `wait` and the block's own length (0.17 s), not the stall
    assert status["underruns"] >= 1 and status["position"] == 16384
    np.testing.assert_array_equal(block[-1000:], 0.0)


def test_musicgen_is_resampled_once_from_its_own_rate_to_the_engines(tmp_path):
    """A tiny random MusicGen (real transformers code, 32 kHz): the generator keeps 32 kHz and the
    engine output resamples straight to 44.1 kHz, no stop at 48 kHz on the way."""
    from adaptive_music.models import load_backend
    from musicgen_tiny import build_tiny_musicgen

    model = load_backend("musicgen", model=str(build_tiny_musicgen(tmp_path / "tiny", stereo=True)))
    output = EngineOutput()
    with Soundtrack(model, seed=1, mood="dark ambient dungeon", sink=output, ahead=0.1) as live:
        assert live.config.output_sample_rate == model.sample_rate == 32000
        output.open(44100, 2)
        pulled = np.concatenate([output.pull(PULL)[1] for _ in range(8)])
        status = live.status()
    assert status["underruns"] == 0 and status["engine_rate"] == 44100
    ring = render_controls(live.spec.build(), [], 8 * PULL * 32000 // 44100 + 64)
    np.testing.assert_array_equal(pulled, StreamResampler(32000, 44100, 2).process(ring)[: len(pulled)])
