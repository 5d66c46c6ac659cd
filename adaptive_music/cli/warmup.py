"""Before live playback: load the backend and check it keeps up with real time.

The procedural backend always does. A neural backend is timed during
warm-up; when it is slower than real time the user chooses, with
``--slow``, between falling back to the procedural backend and
pre-buffering enough audio before playback starts.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from . import backends
from .errors import UsageError

SLOW_CHOICES = ("fallback", "prebuffer")
_MARGIN = 1.2  # pre-buffer this much more than the arithmetic asks: speed varies


def add_arguments(p: argparse.ArgumentParser) -> None:
    backends.add_model_argument(p)
    p.add_argument("--slow", choices=SLOW_CHOICES, default="fallback",
                   help="when the backend is slower than real time: switch to the procedural backend "
                        "(default), or pre-buffer before playing (needs --seconds)")
    p.add_argument("--min-rtf", type=float, default=1.0, metavar="X",
                   help="count the backend as too slow below X times real time (default 1; "
                        "raise it to keep a safety margin)")


@dataclass
class LiveBackend:
    """What to hand the Soundtrack: a backend (name or loaded model) and how far ahead to start."""

    backend: Any
    ahead: float
    rtf: float | None = None
    fallback: str | None = None
    """Why ``backend`` plays instead of the one asked for, or None."""


def prepare(args: argparse.Namespace, ahead: float, seconds: float | None) -> LiveBackend:
    """Load ``args.backend``; time a neural one and apply ``args.slow`` if it cannot keep up."""
    if args.backend not in ("procedural", "musicgen"):
        raise UsageError(f"unknown backend {args.backend!r}; choose procedural or musicgen")
    backends.check_melody(args)
    if args.backend == "procedural":
        return LiveBackend("procedural", ahead)
    model = backends.load_musicgen(args.model, args.melody)
    from ..models.musicgen import measure_rtf

    config = model.default_config()
    print(f"warming up {args.model} ...", file=sys.stderr)
    try:
        rtf = measure_rtf(model, config, seconds=2 * config.hop_seconds)
    except Exception as exc:  # the music goes on, and says why: status reports the fallback
        reason = f"musicgen failed during warm-up: {type(exc).__name__}: {exc}"
        print(f"{reason}; playing the procedural backend instead", file=sys.stderr)
        return LiveBackend("procedural", ahead, None, reason)
    print(f"musicgen generates {rtf:.2f}x real time here", file=sys.stderr)
    # Keep at least one hop ahead: the engine produces audio a hop at a time.
    ahead = max(ahead, config.hop_seconds * _MARGIN / min(rtf, 1.0))
    if rtf >= args.min_rtf:
        return LiveBackend(model, ahead, rtf)
    if args.slow == "fallback":
        print(f"musicgen is too slow for real time on this machine ({rtf:.2f}x); playing the procedural "
              f"backend instead. Use --slow prebuffer --seconds N to pre-generate musicgen instead, "
              f"or render it offline with 'adaptive-music render --backend musicgen'.", file=sys.stderr)
        return LiveBackend("procedural", ahead, rtf, f"musicgen is too slow for real time here ({rtf:.2f}x)")
    if seconds is None:
        raise UsageError(f"musicgen runs at {rtf:.2f}x real time here, so it cannot play endlessly; "
                         "--slow prebuffer needs --seconds N (or use --slow fallback)")
    # Playing T seconds while generating at r x real time runs dry after P / (1 - r) seconds
    # of pre-buffer P: start once P = T (1 - r) is ready, with a margin.
    prebuffer = min(seconds, seconds * max(0.0, 1.0 - rtf / args.min_rtf) * _MARGIN + ahead)
    print(f"pre-buffering {prebuffer:.1f} s of musicgen before playback "
          f"(about {prebuffer / rtf:.0f} s of generation)", file=sys.stderr)
    return LiveBackend(model, prebuffer, rtf)

