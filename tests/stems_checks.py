"""Checks shared by the procedural and MusicGen stems tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adaptive_music.stems import load_manifest
from adaptive_music.stems.files import read_audio
from adaptive_music.stems.player import StemPlayer

BLOCK = 1000


def assert_stinger_mixed_from_the_next_beat(build: Path, mood: str, stinger: str, blocks: int,
                                            atol: float) -> None:
    """One block into ``mood``, ``stinger`` is asked for: the player starts it on the next beat,
    and its output is the loop plus the stinger's file there and the loop alone elsewhere."""
    entry = load_manifest(build)["moods"][mood]
    beat = entry["bar_samples"] // entry["beats_per_bar"]
    with_stinger, without = (StemPlayer(build, mood=mood, block_size=BLOCK) for _ in range(2))
    for player in (with_stinger, without):
        player.next_block()
    with_stinger.stinger(stinger)
    a = np.concatenate([with_stinger.next_block() for _ in range(blocks)])
    b = np.concatenate([without.next_block() for _ in range(blocks)])
    (at, what), = [e for e in with_stinger.events if e[1].startswith("stinger")]
    assert what == f"stinger {stinger}" and at % beat == 0 and BLOCK <= at < BLOCK + beat
    sting = read_audio(build / entry["stingers"][stinger]["file"])[0]
    start = at - BLOCK
    end = min(start + len(sting), len(a))
    np.testing.assert_allclose(a[start:end] - b[start:end], sting[: end - start], atol=atol)
    assert np.array_equal(a[:start], b[:start]) and np.array_equal(a[end:], b[end:])
