"""The adaptive device latency: wider after underflows, narrower after calm, within its bounds."""

import pytest

from adaptive_music.playback.latency import AdaptiveLatency


def test_each_underflow_widens_one_step_up_to_the_most():
    policy = AdaptiveLatency(0.02, 0.06)
    assert policy.now == 0.02
    assert [policy.underflow(t) for t in (1.0, 2.0, 3.0, 4.0)] == [0.04, 0.06, 0.06, 0.06]
    assert policy.widenings == 2


def test_the_holes_of_one_stall_widen_once():
    policy = AdaptiveLatency(0.02, 0.1, settle=1.0)
    assert [policy.underflow(t) for t in (5.0, 5.01, 5.05, 5.3)] == [0.04] * 4
    assert policy.underflow(6.2) == 0.06 and policy.widenings == 2


def test_calm_narrows_one_step_per_calm_period_down_to_the_least():
    policy = AdaptiveLatency(0.02, 0.08, calm=60.0)
    for t in (0.0, 1.0, 2.0):
        policy.underflow(t)
    assert policy.now == 0.08
    assert policy.tick(61.0) == 0.08  # 59 s after the last underflow
    assert policy.tick(62.0) == 0.06
    assert policy.tick(100.0) == 0.06
    assert policy.tick(122.0) == 0.04
    policy.underflow(130.0)  # an underflow starts the calm over
    assert policy.now == 0.06 and policy.tick(189.0) == 0.06 and policy.tick(190.0) == 0.04
    assert [policy.tick(t) for t in (250.0, 310.0, 370.0)] == [0.02, 0.02, 0.02]


def test_most_equal_to_least_keeps_it_fixed_and_bad_bounds_are_refused():
    policy = AdaptiveLatency(0.02, 0.02)
    assert policy.underflow(1.0) == 0.02 and policy.widenings == 0
    with pytest.raises(ValueError, match="least"):
        AdaptiveLatency(0.05, 0.02)


def test_play_refuses_a_max_latency_below_the_latency():
    import subprocess
    import sys

    play = subprocess.run([sys.executable, "-m", "adaptive_music.cli.play", "--mood", "calm", "--seconds", "1",
                           "--latency", "20", "--max-latency", "10"], capture_output=True, text=True, timeout=60)
    assert play.returncode == 2 and "--max-latency must be between --latency and 2000 ms" in play.stderr, play.stderr
