"""Signal measures on synthesized signals whose answers are known."""

import math

import numpy as np
import pytest

from adaptive_music.audio import (
    first_difference,
    integrated_loudness,
    k_weighting,
    onset_rate,
    peak_dbfs,
    rms_dbfs,
    sample_jumps,
    seam_report,
    spectral_centroid,
    tempo_bpm,
)
from adaptive_music.audio.measures import k_weighted

SR = 48000
RNG = np.random.default_rng(1234)


def sine(freq, seconds, amp=1.0, sr=SR):
    return amp * np.sin(2 * np.pi * freq * np.arange(int(round(seconds * sr))) / sr)


def stereo_tone(dbfs, seconds):
    x = sine(1000.0, seconds, 10 ** (dbfs / 20))
    return np.stack([x, x], axis=1)


def clicks(per_second, seconds, sr=SR):
    x = np.zeros(int(seconds * sr) + 200)
    x[(np.arange(0, seconds, 1 / per_second) * sr).astype(int) + 100] = 0.8
    return x


def drum_pattern(bpm, seconds, sr=SR):
    """Kick on beats 1 and 3, snare on 2 and 4, hi-hat on every eighth note."""
    rng = np.random.default_rng(7)
    t = np.arange(int(0.2 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 40)) * t) * np.exp(-t * 12)
    hat = rng.standard_normal(int(0.05 * sr)) * np.exp(-t[: int(0.05 * sr)] * 80) * 0.3
    snare = rng.standard_normal(int(0.15 * sr)) * np.exp(-t[: int(0.15 * sr)] * 25) * 0.5
    x = np.zeros(int(seconds * sr))
    for k, start in enumerate(np.arange(0, seconds - 0.3, 30 / bpm)):
        i = int(start * sr)
        x[i : i + len(hat)] += hat
        if k % 2 == 0:
            hit = kick if k % 4 == 0 else snare
            x[i : i + len(hit)] += hit
    return x


# --- level -------------------------------------------------------------------


def test_peak_and_rms_of_a_sine():
    x = sine(440.0, 1.0, 0.5)
    assert peak_dbfs(x) == pytest.approx(-6.0206, abs=1e-3)
    assert rms_dbfs(x) == pytest.approx(-6.0206 - 3.0103, abs=1e-3)
    assert rms_dbfs(np.stack([x, x], axis=1)) == pytest.approx(rms_dbfs(x))
    assert peak_dbfs(np.zeros(100)) == rms_dbfs(np.zeros((100, 2))) == -math.inf


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), np.zeros((2, 2, 2)), np.array([0.0, np.nan])])
def test_measures_reject_bad_audio(bad):
    with pytest.raises(ValueError):
        peak_dbfs(bad)


# --- loudness ----------------------------------------------------------------


def test_k_weighting_matches_the_bs1770_table_at_48k():
    (b1, a1), (b2, a2) = k_weighting(48000)
    assert b1 == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285], abs=1e-10)
    assert a1 == pytest.approx([1.0, -1.69065929318241, 0.73248077421585], abs=1e-10)
    assert b2 == pytest.approx([1.0, -2.0, 1.0])
    assert a2 == pytest.approx([1.0, -1.99004745483398, 0.99007225036621], abs=1e-10)


def test_fft_k_weighting_equals_the_direct_recursion():
    x = RNG.standard_normal((3000, 2)) * 0.3
    y = x.copy()
    for b, a in k_weighting(44100):
        out = np.zeros_like(y)
        for n in range(len(y)):  # direct form I, zero initial state
            out[n] = b[0] * y[n] - a[1] * out[n - 1] * (n >= 1) - a[2] * out[n - 2] * (n >= 2)
            out[n] += b[1] * y[n - 1] * (n >= 1) + b[2] * y[n - 2] * (n >= 2)
        y = out
    np.testing.assert_allclose(k_weighted(x, 44100), y, atol=1e-10)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_full_scale_997hz_sine_in_one_channel_reads_minus_3_01(sr):
    # BS.1770: a 0 dBFS 1 kHz sine in one front channel reads -3.01 LKFS.
    x = sine(997.0, 3.0, sr=sr)
    assert integrated_loudness(x, sr) == pytest.approx(-3.01, abs=0.03)
    quiet = np.stack([0.1 * x, np.zeros_like(x)], axis=1)
    assert integrated_loudness(quiet, sr) == pytest.approx(-23.01, abs=0.03)


@pytest.mark.parametrize(
    "segments",
    [
        [(-23, 20)],  # EBU Tech 3341 case 1
        [(-33, 20)],  # case 2 (expects -33)
        [(-36, 10), (-23, 60), (-36, 10)],  # case 3: relative gate
        [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)],  # case 4: both gates
        [(-26, 20), (-20, 20.1), (-26, 20)],  # case 5
    ],
)
def test_ebu_tech_3341_minimum_requirements(segments):
    x = np.concatenate([stereo_tone(db, s) for db, s in segments])
    expected = -33.0 if segments == [(-33, 20)] else -23.0
    assert integrated_loudness(x, SR) == pytest.approx(expected, abs=0.1)


def test_loudness_gates_silence_and_needs_one_block():
    assert integrated_loudness(np.zeros((SR, 2)), SR) == -math.inf
    with pytest.raises(ValueError, match="0.4 s"):
        integrated_loudness(np.zeros(SR // 4), SR)
    x = np.stack([sine(997.0, 2.0, 0.1)] * 2, axis=1)
    assert integrated_loudness(x, SR, channel_weights=[1.0, 0.0]) == pytest.approx(-23.01, abs=0.03)
    with pytest.raises(ValueError):
        integrated_loudness(x, SR, channel_weights=[1.0])


# --- onsets, spectrum, tempo -------------------------------------------------


@pytest.mark.parametrize("rate", [1, 4, 12])
def test_onset_rate_counts_clicks(rate):
    assert onset_rate(clicks(rate, 10.0), SR) == pytest.approx(rate, rel=0.03)


def test_onset_rate_counts_notes_and_ignores_steady_sound():
    notes = np.zeros(10 * SR)
    t = np.arange(int(0.3 * SR)) / SR
    envelope = np.minimum(1.0, t * 200) * np.exp(-t * 3)
    for k, start in enumerate(np.arange(0, 9.7, 0.3)):  # 33 notes of a scale
        i = int(start * SR)
        notes[i : i + len(t)] += 0.3 * np.sin(2 * np.pi * 220 * 2 ** ((k * 5 % 12) / 12) * t) * envelope
    assert onset_rate(notes, SR) == pytest.approx(33 / 10, rel=0.05)
    assert onset_rate(RNG.standard_normal(10 * SR) * 0.3, SR) < 0.5
    assert onset_rate(sine(440.0, 10.0, 0.5), SR) <= 0.1  # only its start
    assert onset_rate(np.zeros(2 * SR), SR) == 0.0


def test_spectral_centroid_of_sine_and_noise():
    assert spectral_centroid(sine(1000.0, 2.0), SR) == pytest.approx(1000.0, rel=0.005)
    white = RNG.standard_normal(2 * SR)
    assert spectral_centroid(white, SR) == pytest.approx(SR / 4, rel=0.03)
    smoothed = np.convolve(white, np.ones(8) / 8, mode="same")  # a gentle low-pass
    # White noise through a filter H has magnitude centroid sum(f |H|) / sum(|H|).
    freqs = np.fft.rfftfreq(4096, 1 / SR)
    response = np.abs(np.fft.rfft(np.ones(8) / 8, 4096))
    expected = float(freqs @ response / response.sum())
    assert spectral_centroid(smoothed, SR) == pytest.approx(expected, rel=0.05)
    assert expected < 0.6 * SR / 4
    with pytest.raises(ValueError):
        spectral_centroid(np.zeros(SR), SR)


@pytest.mark.parametrize("bpm", [63.0, 90.0, 128.0, 137.0, 175.0])
def test_tempo_of_click_tracks(bpm):
    assert tempo_bpm(clicks(bpm / 60, 12.0), SR) == pytest.approx(bpm, abs=0.5)


@pytest.mark.parametrize("bpm", [70.0, 80.0, 100.0])
def test_tempo_of_a_drum_pattern(bpm):
    assert tempo_bpm(drum_pattern(bpm, 12.0), SR) == pytest.approx(bpm, abs=1.0)


@pytest.mark.parametrize("bpm", [120.0, 140.0])
def test_tempo_may_halve_a_backbeat_and_a_one_octave_range_resolves_it(bpm):
    x = drum_pattern(bpm, 12.0)  # kicks on 1 and 3 repeat every two beats
    assert tempo_bpm(x, SR) == pytest.approx(bpm / 2, abs=1.0)
    assert tempo_bpm(x, SR, min_bpm=0.75 * bpm, max_bpm=1.5 * bpm) == pytest.approx(bpm, abs=1.0)


def test_tempo_is_steady_across_windows_of_a_steady_track():
    x = drum_pattern(96.0, 24.0)
    estimates = [tempo_bpm(x[i * SR : (i + 6) * SR], SR) for i in range(0, 18, 3)]
    assert max(estimates) - min(estimates) < 0.5


def test_tempo_needs_enough_audio_and_some_onsets():
    with pytest.raises(ValueError):
        tempo_bpm(clicks(2, 1.0), SR)
    with pytest.raises(ValueError):
        tempo_bpm(np.zeros(10 * SR), SR)


# --- jumps, seams, differences -----------------------------------------------


def test_sample_jumps_take_the_largest_channel():
    x = np.array([[0.0, 0.0], [0.5, -0.1], [0.4, 0.6]])
    np.testing.assert_allclose(sample_jumps(x), [0.5, 0.7])
    assert sample_jumps(np.zeros(10)).shape == (9,)


def test_seam_report_finds_a_click_at_a_seam_and_passes_a_clean_one():
    x = sine(220.0, 2.0, 0.5)
    seams = [SR // 2, SR, 3 * SR // 2]
    clean = seam_report(x, seams)
    assert clean.within and clean.seams == 3
    glitched = x.copy()
    glitched[SR:] += 0.3  # a DC step: a click at the middle seam
    report = seam_report(glitched, seams)
    assert not report.within
    assert report.worst_seam == SR
    assert report.worst_jump == pytest.approx(x[SR] + 0.3 - x[SR - 1], abs=1e-12)
    assert report.interior_p999 == pytest.approx(clean.interior_p999, rel=0.01)
    assert report.as_dict()["within"] is False


def test_seam_report_does_not_fail_seams_that_add_nothing_by_chance():
    # Seams that change nothing (noise, as heavy-tailed as the music likes): their jumps are
    # drawn from the same distribution as everywhere else. 200 seams of 3 samples each.
    x = np.random.default_rng(0).standard_t(3, (4 * SR, 2)) * 0.05
    reports = [seam_report(x, np.random.default_rng(k).choice(np.arange(10, len(x) - 10), 200, replace=False),
                           radius=1) for k in range(100)]
    assert sum(r.within for r in reports) >= 95
    # A fixed 99.9th percentile fails about 45 in 100 of them.
    assert sum(r.worst_jump > r.interior_p999 for r in reports) > 25


def test_seam_report_rejects_bad_seams():
    x = sine(220.0, 0.1)
    for seams in ([], [0], [len(x)]):
        with pytest.raises(ValueError):
            seam_report(x, seams)
    with pytest.raises(ValueError):
        seam_report(x, [100], radius=len(x))


def test_first_difference():
    a = RNG.standard_normal((1000, 2))
    assert first_difference(a, a.copy()) is None
    b = a.copy()
    b[617, 1] += 1e-3
    assert first_difference(a, b) == 617
    assert first_difference(a, b, tol=1e-2) is None
    assert first_difference(a, a[:900]) == 900
    c = a.copy()
    c[3, 0] = np.nan
    assert first_difference(a, c, tol=1.0) == 3
    assert first_difference(a[:, 0], a[:, 0]) is None
    with pytest.raises(ValueError):
        first_difference(a, a[:, :1])
