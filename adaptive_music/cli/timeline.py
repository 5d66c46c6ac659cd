"""The mood-timeline arguments that ``render`` and ``play`` share."""

from __future__ import annotations

import argparse
import math

from .errors import UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mood", required=True, help="the starting mood text")
    p.add_argument("--at", nargs=2, action="append", default=[], metavar=("SECONDS", "TEXT"),
                   help="change to the mood TEXT at SECONDS of music (repeatable)")
    p.add_argument("--transition", choices=("now", "beat", "bar"), default="beat",
                   help="where mood changes land (default: the next beat)")
    p.add_argument("--ramp", type=float, default=1.0, help="seconds to blend into a new mood (default 1)")
    p.add_argument("--intensity", type=float, default=0.5, help="intensity 0..1 (default 0.5)")
    p.add_argument("--seed", type=int, default=0)


def changes(args: argparse.Namespace, length: float | None) -> list[tuple[float, str]]:
    """The ``--at`` changes, sorted; each must fall inside [0, length) when a length is given."""
    if not (math.isfinite(args.ramp) and 0 <= args.ramp <= 60):
        raise UsageError(f"--ramp must be between 0 and 60 seconds, got {args.ramp:g}")
    out = []
    for at, text in args.at:
        try:
            seconds = float(at)
        except ValueError:
            raise UsageError(f"--at time must be a number of seconds, got {at!r}") from None
        inside = math.isfinite(seconds) and seconds >= 0 and (length is None or seconds < length)
        if not inside:
            span = "0 s or later" if length is None else f"0 to {length:g} s"
            raise UsageError(f"--at {at} is outside the music ({span})")
        out.append((seconds, text))
    return sorted(out)
