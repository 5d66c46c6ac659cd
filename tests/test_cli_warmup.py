"""play/serve warm-up: a neural backend is timed, and a slow one falls back or pre-buffers."""

import argparse

import pytest

pytest.importorskip("transformers")

from musicgen_tiny import build_tiny_musicgen  # noqa: E402

from adaptive_music.cli import warmup  # noqa: E402
from adaptive_music.cli.errors import UsageError  # noqa: E402
from adaptive_music.models.musicgen import MusicgenModel  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(build_tiny_musicgen(tmp_path_factory.mktemp("warmup") / "tiny"))


def args(model, **kw):
    p = argparse.ArgumentParser()
    p.add_argument("--backend")
    warmup.add_arguments(p)
    ns = p.parse_args(["--backend", "musicgen", "--model", model])
    vars(ns).update(kw)
    return ns


def test_fast_enough_backend_is_used_as_loaded(tiny, capsys):
    live = warmup.prepare(args(tiny, min_rtf=0.01), ahead=0.1, seconds=None)
    assert isinstance(live.backend, MusicgenModel) and live.rtf > 0.01
    assert live.ahead >= live.backend.default_config().hop_seconds  # at least a hop ahead
    assert "real time here" in capsys.readouterr().err


def test_slow_backend_falls_back_to_procedural(tiny, capsys):
    # No machine runs the tiny model 10^6 times faster than real time: this one counts as slow.
    live = warmup.prepare(args(tiny, min_rtf=1e6), ahead=0.1, seconds=None)
    assert live.backend == "procedural" and live.rtf < 1e6
    assert live.fallback.startswith("musicgen is too slow for real time here")  # for status
    assert "playing the procedural backend instead" in capsys.readouterr().err


def test_backend_failing_in_warm_up_falls_back_with_the_reason(tmp_path, capsys):
    from musicgen_tiny import damage

    broken = damage(build_tiny_musicgen(tmp_path / "broken"), "ambient")  # the warm-up prompt
    live = warmup.prepare(args(str(broken), min_rtf=0.01), ahead=0.1, seconds=None)
    assert live.backend == "procedural"
    assert live.fallback.startswith("musicgen failed during warm-up: FloatingPointError")
    assert live.fallback in capsys.readouterr().err


def test_slow_backend_prebuffers_a_bounded_piece(tiny, capsys):
    with pytest.raises(UsageError, match="needs --seconds"):
        warmup.prepare(args(tiny, min_rtf=1e6, slow="prebuffer"), ahead=0.1, seconds=None)
    live = warmup.prepare(args(tiny, min_rtf=1e6, slow="prebuffer"), ahead=0.1, seconds=20.0)
    assert isinstance(live.backend, MusicgenModel)
    assert 10.0 < live.ahead <= 20.0  # nearly the whole piece is generated before it starts
    assert "pre-buffering" in capsys.readouterr().err


def test_missing_weights_are_a_one_line_usage_error(tmp_path):
    with pytest.raises(UsageError, match="missing|not found|download"):
        warmup.prepare(args(str(tmp_path / "nowhere")), ahead=0.1, seconds=None)
