"""The streaming engine, driven through the procedural backend."""

import numpy as np
import pytest

from adaptive_music.audio.measures import first_difference, sample_jumps, seam_report
from adaptive_music.config import StreamConfig
from adaptive_music.engine.resample import StreamResampler
from adaptive_music.engine.seams import stitch
from adaptive_music.engine.stream import StreamingGenerator, render
from adaptive_music.engine.timeline import ConditionTrack, MoodChange
from adaptive_music.models import load_backend
from adaptive_music.models.base import Blend, Mood, blend_weights

SR = 48000


@pytest.fixture(scope="module")
def model():
    return load_backend("procedural", soundfont="none")  # the built-in voices; tests/test_sound.py: sampled


def test_config_validates_lengths_against_rates():
    with pytest.raises(ValueError, match="whole number"):
        StreamConfig(sample_rate=48000, frame_rate=50, hop_seconds=0.015)
    with pytest.raises(ValueError, match="samples per frame"):
        StreamConfig(sample_rate=44100, frame_rate=50.5)
    with pytest.raises(ValueError, match="crossfade"):
        StreamConfig(hop_seconds=0.02, crossfade_seconds=0.04)
    with pytest.raises(ValueError, match="window"):
        StreamConfig(window_seconds=4, context_seconds=4, hop_seconds=0.2)
    cfg = StreamConfig(sample_rate=32000, frame_rate=50, hop_seconds=0.5)
    assert (cfg.samples_per_frame, cfg.hop_frames, cfg.crossfade_frames) == (640, 25, 1)


def test_render_is_deterministic_for_seed_and_timeline(model):
    changes = [MoodChange(3.0, "intense boss battle", ramp=1.0)]
    a = render(model, "calm exploration", 6, seed=11, changes=changes).audio
    b = render(load_backend("procedural", soundfont="none"), "calm exploration", 6, seed=11, changes=changes).audio
    c = render(model, "calm exploration", 6, seed=12, changes=changes).audio
    assert np.array_equal(a, b)
    assert first_difference(a, c, tol=1e-3) is not None


def test_audio_does_not_depend_on_hop_size(model):
    changes = [MoodChange(2.5, "goblins attack, fast drums", transition="now", ramp=0.7)]
    outs = []
    for hop in (0.04, 0.1, 1.0):
        cfg = model.default_config().replace(hop_seconds=hop)
        outs.append(render(model, "quiet cave", 6, seed=5, changes=changes, config=cfg).audio)
    assert np.max(np.abs(outs[0] - outs[1])) < 1e-5
    assert np.max(np.abs(outs[0] - outs[2])) < 1e-5


def test_window_roll_continues_seamlessly(model):
    # A short window rolls every few seconds; a long one never does in 12 s.
    short = model.default_config().replace(window_seconds=9.0, context_seconds=8.0, hop_seconds=1.0)
    long = model.default_config().replace(window_seconds=30.0, context_seconds=8.0, hop_seconds=1.0)
    a = render(model, "heroic adventure", 12, seed=2, config=short)
    b = render(model, "heroic adventure", 12, seed=2, config=long)
    assert np.max(np.abs(a.audio - b.audio)) < 1e-5


def test_no_clicks_at_seams_across_a_mood_change(model):
    live = model.default_config()  # 40 ms hops: 400 seams in 16 s
    changes = [MoodChange(8, "goblins attack, fast drums, tense")]
    r = render(model, "calm forest at dawn, soft strings", 16, seed=7, changes=changes, config=live)
    assert len(r.seams) > 100
    # Stitching adds nothing: the jumps at the seams equal those of a render with 8 s hops.
    ref = render(model, "calm forest at dawn, soft strings", 16, seed=7, changes=changes,
                 config=live.replace(hop_seconds=8.0))
    at = np.array(r.seams) - 1
    assert np.max(np.abs(sample_jumps(r.audio)[at] - sample_jumps(ref.audio)[at])) < 1e-5
    # The criterion. At 150 bpm a sixteenth is exactly 5 frames, so every drum hit
    # starts on a seam and legitimately jumps; at 80 bpm the grid and the seams do not meet.
    calm = r.audio[: 8 * SR]
    report = seam_report(calm, [s for s in r.seams if s < 8 * SR], radius=1)
    assert report.within, report


def test_mood_change_lands_exactly_on_the_beat_and_bar(model):
    base = render(model, "calm exploration", 10, seed=3)
    for transition in ("beat", "bar"):
        changed = render(model, "calm exploration", 10, seed=3,
                         changes=[MoodChange(4.0, "intense boss battle", transition=transition)])
        diff = first_difference(base.audio, changed.audio, tol=1e-4)
        grid = [m for m in base.markers if m.sample >= 4.0 * SR and (transition == "beat" or m.beat == 0)]
        # The change lands on the first boundary the stream had not generated yet.
        assert diff is not None and diff >= grid[0].sample
        boundary = min((m.sample for m in grid if m.sample >= diff - 48), default=None)
        assert boundary is not None and abs(diff - boundary) <= 48, (transition, diff, boundary)


def test_now_change_lands_at_its_time(model):
    base = render(model, "calm exploration", 6, seed=3)
    changed = render(model, "calm exploration", 6, seed=3,
                     changes=[MoodChange(2.0, "intense boss battle", transition="now")])
    diff = first_difference(base.audio, changed.audio, tol=1e-4)
    # The next sixteenth-note step after 2.0 s: at most one step (~170 ms at 87 bpm) later.
    assert 2.0 * SR <= diff <= 2.0 * SR + 0.18 * SR


def test_live_commands_coalesce_latest_wins(model):
    gen = StreamingGenerator(model, "calm exploration", seed=1)
    gen.next_block()
    for text in ("dark dungeon", "happy village", "intense boss battle"):
        gen.set_mood(text)
    gen.set_intensity(0.9)
    assert gen.mood.text == "intense boss battle" and gen.mood.intensity == 0.9
    for _ in range(60):
        gen.next_block()
    assert gen.status()["mood"] == "intense boss battle"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gen.set_intensity(float("nan"))
    with pytest.raises(ValueError, match="transition"):
        gen.set_mood("calm", transition="soon")


def test_stinger_sounds_on_the_next_beat(model):
    a = StreamingGenerator(model, "calm exploration", seed=4)
    b = StreamingGenerator(model, "calm exploration", seed=4)
    blocks_a, blocks_b = [a.next_block() for _ in range(20)], [b.next_block() for _ in range(20)]
    b.stinger("item_pickup")
    for _ in range(150):
        blocks_a.append(a.next_block())
        blocks_b.append(b.next_block())
    xa, xb = np.concatenate(blocks_a), np.concatenate(blocks_b)
    diff = first_difference(xa, xb, tol=1e-4)
    beats = [m.sample for m in b.take_markers()]
    assert diff is not None and min(abs(diff - s) for s in beats) <= 48
    assert np.sum((xb - xa) ** 2) > 1.0


def test_state_round_trips_through_bytes(model):
    cfg = model.default_config()
    cond = model.condition(Mood("mysterious ruins"))
    state = model.initial_state(cfg, 9)
    _, state = model.generate(state, cond, 200, 9)
    copy = type(state).from_bytes(state.to_bytes())
    assert copy.frame == state.frame and np.array_equal(copy.tokens, state.tokens)
    t1, s1 = model.generate(state, cond, 150, 9)
    t2, s2 = model.generate(copy, cond, 150, 9)
    assert np.array_equal(t1, t2) and s1.data == s2.data


def test_stitch_preserves_level_for_any_correlation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((960, 2)).astype(np.float32)
    assert np.allclose(stitch(x, x), x, atol=1e-6)  # identical: untouched
    y = rng.standard_normal((960, 2)).astype(np.float32)
    mid = stitch(x, y)[400:560]
    assert np.mean(mid ** 2) == pytest.approx(1.0, rel=0.15)  # uncorrelated: equal power


def test_resampler_keeps_time_and_tone():
    t_in = np.arange(32000) / 32000
    sine = np.sin(2 * np.pi * 440 * t_in).astype(np.float32)[:, None]
    rs = StreamResampler(32000, 48000, 1)
    out = np.concatenate([rs.process(sine[i : i + 777]) for i in range(0, len(sine), 777)] + [rs.flush()])
    assert len(out) == 48000
    t_out = np.arange(48000) / 48000
    expected = np.sin(2 * np.pi * 440 * t_out)
    assert np.max(np.abs(out[100:-100, 0] - expected[100:-100])) < 2e-3


def test_blends_ramp_by_absolute_frame_and_latest_wins():
    b = Blend("a", "b", 10, 20)
    assert dict(blend_weights(b, 15)) == {"a": 0.5, "b": 0.5}
    assert dict(blend_weights(Blend(b, "c", 15, 15), 16)) == {"c": 1.0}
    track = ConditionTrack("a")
    track.add("b", 100, 0)
    track.add("c", 50, 10)  # earlier than the pending change: replaces it
    assert track.latest == "c"
    track.settle(70)
    assert track.condition == "c"


def test_mastering_holds_the_ceiling_and_ignores_call_sizes():
    from adaptive_music.engine.master import CEILING, Leveler, soft_limit

    rng = np.random.default_rng(1)
    x = (rng.standard_normal((SR * 6, 2)) * np.linspace(0.01, 0.8, SR * 6)[:, None]).astype(np.float32)

    def run(parts):
        lev, out, i = Leveler(SR, 2), [], 0
        for n in parts:
            out.append(lev.process(x[i : i + n]))
            i += n
        return np.concatenate(out)

    whole = run([len(x)])
    assert np.array_equal(whole, run([7, 10_000, 3] + [4790] * 58 + [len(x)])[: len(x)])
    limited = soft_limit(whole * 4)
    assert np.abs(limited).max() < CEILING
    quiet = x[:1000] * 0.1
    assert np.array_equal(soft_limit(quiet), quiet)  # below the knee: untouched


def test_the_leveler_moves_a_mix_half_way_and_never_leaves_it_outside_the_window():
    from adaptive_music.engine.master import leveling_gain_db

    def lands(lufs):
        return lufs + leveling_gain_db(lufs)

    assert lands(-17.0) == pytest.approx(-16.5) and lands(-15.0) == pytest.approx(-15.5)  # half way
    assert lands(-21.0) == pytest.approx(-17.0) and lands(-11.0) == pytest.approx(-15.0)  # held in the window
    assert lands(-40.0) == pytest.approx(-28.0)  # no more than 12 dB up


@pytest.mark.parametrize("freq", [45.0, 110.0, 1000.0, 4000.0])
def test_the_leveler_hears_a_tone_as_a_loudness_meter_does(freq):
    # The leveler had weighted the bass with a steeper high-pass than BS.1770's, so a 45-Hz
    # tone counted 2.7 dB louder than a meter reads it, and a bass-heavy mix was left quiet.
    from adaptive_music.audio.measures import integrated_loudness
    from adaptive_music.engine.master import Leveler, leveling_gain_db

    t = np.arange(SR * 16) / SR
    tone = np.sin(2 * np.pi * freq * t)
    tone = np.stack([tone, tone], 1).astype(np.float32)
    tone *= 10 ** ((-23.0 - integrated_loudness(tone, SR)) / 20)  # -23 LUFS, as a meter reads it
    out = Leveler(SR, 2).process(tone)
    assert integrated_loudness(out[SR * 10 :], SR) == pytest.approx(-23.0 + leveling_gain_db(-23.0), abs=0.1)


def test_a_loud_first_downbeat_does_not_hold_the_leveler_down():
    # The first block alone had stood for the loudness of the next three seconds: a piece that
    # opened on a loud chord played its bars from 3 to 5 s 8 LU under where it settled. Now the
    # chord counts for its own length, as it would on a 3-s loudness meter.
    from adaptive_music.audio.measures import integrated_loudness
    from adaptive_music.engine.master import Leveler, leveling_gain_db

    rng = np.random.default_rng(2)
    music = rng.standard_normal((SR * 8, 2)).astype(np.float32)
    music *= 10 ** ((-23.0 - integrated_loudness(music, SR)) / 20)
    music[: SR // 10] *= 10 ** (15 / 20)  # the opening chord, 15 dB above the rest
    out = Leveler(SR, 2).process(music)
    settled = -23.0 + leveling_gain_db(-23.0)
    assert integrated_loudness(out[SR * 3 : SR * 5], SR) > settled - 3.0
    assert integrated_loudness(out[SR * 6 :], SR) == pytest.approx(settled, abs=1.0)


def test_live_change_is_taken_within_a_hop_not_after_it():
    from adaptive_music.models.procedural import ProceduralModel

    class Steered(ProceduralModel):
        """Issues a mood change from inside generation, as a game thread would mid-hop."""

        calls = 0

        def generate(self, state, condition, n_frames, seed):
            Steered.calls += 1
            if Steered.calls == 3:
                gen.set_mood("intense boss battle")
            return super().generate(state, condition, n_frames, seed)

    cfg = ProceduralModel().default_config().replace(hop_seconds=1.0, control_seconds=0.1)
    gen = StreamingGenerator(Steered(), "calm exploration", config=cfg, seed=3)
    steered = np.concatenate([gen.next_block() for _ in range(140)])
    plain = render(load_backend("procedural"), "calm exploration", len(steered) / SR, seed=3, config=cfg).audio
    diff = first_difference(plain, steered[: len(plain)], tol=1e-4)
    # Asked during the third 0.1 s call: heard from 0.3 s (next sixteenth), not from the 1 s hop end.
    assert diff is not None and 0.3 * SR <= diff < 0.55 * SR


def test_transitions_report_where_a_change_starts_and_ends_being_heard(model):
    gen = StreamingGenerator(model, "calm exploration", seed=3,
                             changes=[MoodChange(2.0, "intense boss battle", transition="now", ramp=1.5),
                                      MoodChange(5.0, "sad rainy village", transition="bar", ramp=0.0)])
    blocks = [gen.next_block() for _ in range(8 * SR // gen.config.block_size)]
    t = gen.take_transitions()
    assert [(x.phase, x.mood.text) for x in t] == [
        ("start", "intense boss battle"), ("end", "intense boss battle"),
        ("start", "sad rainy village"), ("end", "sad rainy village")]
    assert t[0].sample == 2 * SR and t[1].sample == round(3.5 * SR)
    bars = [m.sample for m in gen.take_markers() if m.beat == 0]
    assert t[2].sample in bars and t[2].sample == t[3].sample and t[2].sample >= 5 * SR
    assert len(blocks) and gen.take_transitions() == []


def test_backend_failure_mid_stream_falls_back_without_a_gap(caplog):
    from adaptive_music.engine.master import CEILING
    from adaptive_music.models.procedural import ProceduralModel

    class Crashing(ProceduralModel):
        """A backend that dies mid-stream, as a GPU backend does when it runs out of memory."""

        name = "crashing"
        calls = 0

        def generate(self, state, condition, n_frames, seed):
            Crashing.calls += 1
            if Crashing.calls > 40:
                raise RuntimeError("CUDA out of memory")
            return super().generate(state, condition, n_frames, seed)

    gen = StreamingGenerator(Crashing(soundfont="none"), "intense boss battle", seed=2,
                             fallback=ProceduralModel(soundfont="none"))
    with caplog.at_level("ERROR"):
        audio = np.concatenate([gen.next_block() for _ in range(8 * SR // gen.config.block_size)])
    assert gen.failure and "CUDA out of memory" in gen.failure and "crashing" in caplog.text
    assert gen.model is gen.fallback
    switch = int(40 * 0.1 * SR)  # 40 calls of 0.1 s
    # No gap: no run of digital silence anywhere, no click at the switch, nothing over the ceiling.
    quiet = np.abs(audio).max(axis=1) < 1e-4
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(int), [0]]))))[::2]
    assert runs.size == 0 or runs.max() < 0.005 * SR
    jumps = sample_jumps(audio)
    around = jumps[switch - SR // 10 : switch + SR // 10]
    assert around.max() <= np.percentile(jumps, 99.99)
    assert np.abs(audio).max() < CEILING
    # The music carries on in the same mood.
    gen.set_mood("calm exploration")
    for _ in range(100):
        gen.next_block()
    assert gen.status()["mood"] == "calm exploration"


def test_a_stinger_that_fails_to_render_falls_back_losing_nothing(monkeypatch, caplog):
    """Stingers render off the generator's thread; one that fails stops the stream before its
    step changes anything, so the fallback fades out the very audio that was due, as for any
    backend failure. A silent fallback leaves that fade to compare with the uninterrupted stream."""
    from adaptive_music.models.procedural import ProceduralModel, stingers

    class Silent(ProceduralModel):
        name = "silent"

        def decode(self, tokens, state):
            return np.zeros_like(super().decode(tokens, state))

    def broken(*args, **kwargs):
        raise RuntimeError("stinger synthesis failed")

    def stream(fallback=None) -> StreamingGenerator:
        return StreamingGenerator(ProceduralModel(soundfont="none"), "intense boss battle", seed=2, fallback=fallback)

    monkeypatch.setattr(stingers, "render_stinger", broken)
    gen, reference = stream(Silent(soundfont="none")), stream()
    n = 3 * SR // gen.config.block_size
    blocks = [gen.next_block() for _ in range(n)]
    gen.stinger("danger")
    with caplog.at_level("ERROR"):
        while gen.failure is None:
            blocks.append(gen.next_block())
    switch = gen.position
    audio = np.concatenate(blocks + [gen.next_block() for _ in range(SR // gen.config.block_size)])
    expected = np.concatenate([reference.next_block() for _ in range(len(audio) // gen.config.block_size)])
    assert "stinger synthesis failed" in gen.failure and gen.model is gen.fallback
    # Up to the switch the music is the uninterrupted stream's; then that same music fades out
    # (20 ms), not music from further on, as it was when a failed stinger lost its step's audio.
    first = np.flatnonzero(np.any(audio != expected, axis=1))[0]
    assert switch - SR // 5 < first <= switch
    fade = slice(first, first + SR // 50)
    a, e = audio[fade].ravel(), expected[fade].ravel()
    assert np.dot(a, e) / np.sqrt(np.dot(a, a) * np.dot(e, e)) > 0.9  # 0.94 here; -0.18 with the step lost
    assert np.abs(audio[switch + SR // 5 :]).max() < 1e-4  # the silent fallback from there on


def test_intensity_set_while_a_mood_change_waits_keeps_its_transition(model):
    gen = StreamingGenerator(model, "calm exploration", seed=1)
    gen.next_block()
    gen.set_mood("intense boss battle", transition="bar", ramp=4.0)
    gen.set_intensity(0.9)
    for _ in range(12 * SR // gen.config.block_size):
        gen.next_block()
    start, end = gen.take_transitions()[:2]
    bars = {m.sample for m in gen.take_markers() if m.beat == 0}
    assert start.mood == Mood("intense boss battle", 0.9)
    assert start.sample in bars and end.sample - start.sample == pytest.approx(4 * SR, abs=2)
