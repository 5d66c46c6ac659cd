"""The hole meter: silence a stream let through, from when its buffers are heard."""

import numpy as np

from adaptive_music.playback.holes import HoleMeter

SR = 48000


def feed(meter: HoleMeter, times: list[float], frames: int = 240) -> None:
    for t in times:
        meter.observe(t, frames)


def steady(start: float, n: int, frames: int = 240) -> list[float]:
    return [start + k * frames / SR for k in range(n)]


def test_a_steady_jittery_stream_has_no_holes():
    rng = np.random.default_rng(1)
    meter = HoleMeter(SR, tolerance=0.002)
    feed(meter, [t + rng.uniform(-0.0008, 0.0008) for t in steady(10.0, 2000)])
    assert (meter.holes, meter.lost_seconds) == (0, 0.0)


def test_a_jump_of_the_clock_is_one_hole_of_its_length_and_the_start_does_not_count():
    meter = HoleMeter(SR, tolerance=0.002, settle=0.25)
    times = steady(10.0, 100)  # 0.5 s
    times[10:] = [t + 2.0 for t in times[10:]]  # a fresh stream's 2-s wait, within the first 0.25 s
    times[60:] = [t + 0.015 for t in times[60:]]  # then a 15-ms hole
    times[80:] = [t + 0.007 for t in times[80:]]  # and a 7-ms one
    feed(meter, times)
    assert meter.holes == 2
    assert abs(meter.lost_seconds - 0.022) < 1e-9 and abs(meter.longest - 0.015) < 1e-9


def test_a_slowly_drifting_device_clock_is_no_hole():
    meter = HoleMeter(SR, tolerance=0.002)
    drift = 1 + 100e-6  # a sound card 100 ppm slow against the system clock
    feed(meter, [t * drift for t in steady(0.0, 200 * 60 * 10)])  # 10 minutes
    assert meter.holes == 0
