"""The playback ring: order across wraparound, underrun fades and counts, an allocation-free read."""

import threading
import tracemalloc

import numpy as np
import pytest

from adaptive_music.playback import ringbuffer
from adaptive_music.playback.ringbuffer import RingBuffer


def ramp(start: int, n: int, channels: int = 2) -> np.ndarray:
    """Frames whose every sample is its frame index (plus 0.5 on channel 1), so order is checkable."""
    idx = np.arange(start, start + n, dtype=np.float32)[:, None]
    return idx + np.arange(channels, dtype=np.float32) * 0.5


def test_frames_come_out_in_order_across_wraparound():
    ring = RingBuffer(100, 2)
    out = np.empty((37, 2), np.float32)
    written = read = 0
    for step in range(60):  # 60 * 37 frames pass through a 100-frame ring many times
        while ring.writable >= 23:
            ring.write(ramp(written, 23))
            written += 23
        assert ring.read_into(out) == 37
        np.testing.assert_array_equal(out, ramp(read, 37))
        read += 37
    assert ring.frames_read == read and ring.readable == written - read
    assert ring.underruns == 0


def test_write_that_does_not_fit_raises_and_keeps_contents():
    ring = RingBuffer(10, 2)
    ring.write(ramp(0, 8))
    with pytest.raises(BufferError, match="do not fit"):
        ring.write(ramp(8, 3))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        ring.write(np.zeros((2, 3), np.float32))
    out = np.empty((8, 2), np.float32)
    assert ring.read_into(out) == 8
    np.testing.assert_array_equal(out, ramp(0, 8))


def test_underrun_fades_to_silence_counts_and_fades_back_in():
    fade = 16
    ring = RingBuffer(64, 2, fade_frames=fade)
    level = np.full((40, 2), 0.8, np.float32)
    ring.write(level)
    out = np.empty((50, 2), np.float32)
    assert ring.read_into(out) == 40
    assert ring.underruns == 1 and ring.underrun_frames == 10
    np.testing.assert_array_equal(out[:40], level)
    tail = out[40:, 0]
    # No step: each missing frame is a little below the one before, down to zero.
    assert np.all(np.diff(np.concatenate([[0.8], tail])) < 0)
    assert np.max(np.abs(np.diff(np.concatenate([[0.8], tail])))) <= 0.8 / fade + 1e-6
    # The fade goes on where it stopped, in the next (empty) read.
    out2 = np.empty((20, 2), np.float32)
    assert ring.read_into(out2) == 0
    assert ring.underruns == 2 and ring.underrun_frames == 30
    assert np.all(np.abs(np.diff(np.concatenate([tail[-1:], out2[:, 0]]))) <= 0.8 / fade + 1e-6)
    np.testing.assert_array_equal(out2[-4:], 0)
    # Audio that comes back fades in rather than jumping to full level.
    ring.write(level)
    out3 = np.empty((40, 2), np.float32)
    assert ring.read_into(out3) == 40
    np.testing.assert_allclose(out3[:fade, 0], 0.8 * np.arange(1, fade + 1) / fade, rtol=1e-6)
    np.testing.assert_array_equal(out3[fade:], level[fade:])


def test_running_dry_after_close_is_not_an_underrun():
    ring = RingBuffer(32, 1)
    ring.write(np.ones((8, 1), np.float32))
    ring.close()
    out = np.empty((16, 1), np.float32)
    assert ring.read_into(out) == 8
    assert ring.drained and ring.underruns == 0
    with pytest.raises(BufferError, match="closed"):
        ring.write(np.ones((1, 1), np.float32))


def test_pause_fades_out_without_reading():
    ring = RingBuffer(64, 1, fade_frames=8)
    ring.write(np.ones((32, 1), np.float32))
    out = np.empty((4, 1), np.float32)
    ring.read_into(out)
    paused = np.empty((16, 1), np.float32)
    ring.fade_out_into(paused)
    np.testing.assert_allclose(paused[:8, 0], 1 - np.arange(1, 9) / 8)
    np.testing.assert_array_equal(paused[8:], 0)
    assert ring.readable == 28 and ring.underruns == 0


def test_read_path_allocates_nothing():
    ring = RingBuffer(4096, 2)
    block = np.full((1024, 2), 0.25, np.float32)
    out = np.empty((1000, 2), np.float32)  # not a divisor of the capacity: reads wrap around
    for _ in range(3):  # warm up numpy's lazily built state on both paths, underrun included
        ring.write(block)
        ring.read_into(out)
        ring.read_into(out)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for i in range(2000):
            if i % 2 == 0 and ring.writable >= 1024:
                ring.write(block)  # the producer's side is measured too
            ring.read_into(out)
        peak = tracemalloc.get_traced_memory()[1] - base
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, ringbuffer.__file__)])
    finally:
        tracemalloc.stop()
    assert ring.underruns > 0  # the loop reads faster than it writes: the fade path ran too
    # 2000 reads of 8000 bytes each: what stays allocated is the ring's int
    # counters, and the transient peak is a few small view objects.
    assert sum(t.size for t in snap.traces) < 256
    assert peak < 1024


def test_threaded_producer_and_consumer_keep_every_frame():
    ring = RingBuffer(257, 2)
    total = 20_000
    got = np.empty((total, 2), np.float32)

    def produce():
        at = 0
        while at < total:
            n = min(61, total - at)
            if ring.writable >= n:
                ring.write(ramp(at, n))
                at += n
        ring.close()

    producer = threading.Thread(target=produce)
    producer.start()
    at = 0
    out = np.empty((50, 2), np.float32)
    while not ring.drained:
        if ring.readable >= 50 or ring.closed:
            n = ring.read_into(out)
            got[at : at + n] = out[:n]
            at += n
    producer.join()
    assert at == total
    np.testing.assert_array_equal(got, ramp(0, total))


def test_two_mappings_of_shared_memory_see_one_ring_and_one_player_state():
    from adaptive_music.playback.feed import shared_layout
    from adaptive_music.playback.player import Playback, PlayerState

    ring_bytes, state_bytes = shared_layout(100, 1)  # mono, odd size: the state is still aligned
    assert ring_bytes % 64 == 0
    memory = memoryview(bytearray(ring_bytes + state_bytes))
    producer = RingBuffer(100, 1, buffer=memory[:ring_bytes])
    consumer = RingBuffer(100, 1, buffer=memory[:ring_bytes])
    player_side, game_side = PlayerState(memory[ring_bytes:]), PlayerState(memory[ring_bytes:])
    view = Playback(consumer, game_side, 1000)

    producer.write(np.ones((10, 1), np.float32))
    out = np.zeros((16, 1), np.float32)
    consumer.read_into(out)  # 6 frames short
    assert (producer.underruns, producer.underrun_frames) == (1, 6)  # counted where the game reads them
    assert view.clock() is None and view.heard_at(0) is None
    player_side.publish_clock(10, 50.0)
    assert view.clock() == (10, 50.0) and view.heard_at(20) == pytest.approx(50.01)
    view.pause()  # the game steers, the player reads
    assert player_side.paused and view.heard_at(20) is None
    view.resume()
    assert not player_side.paused
    assert not view.wait(0.01)
    player_side.set_done()
    assert view.wait(0.01)
