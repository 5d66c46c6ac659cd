"""``adaptive-music stems``: render a mood map into shipping stems (loops, layers,
transitions, stingers, MIDI, a manifest and Godot resources)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import backends
from .errors import UsageError

EXIT_BACKEND_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("stems", help="render a mood map offline into stems for shipping builds")
    p.add_argument("--moods", type=Path, required=True, help="the mood map (TOML) whose moods and stingers to render")
    p.add_argument("--mood", action="append", default=[], metavar="NAME=TEXT", help="an extra mood (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="the output folder")
    p.add_argument("--backend", default="procedural",
                   help="procedural (default) or musicgen (loops and transitions only: no layers, MIDI or stingers)")
    p.add_argument("--model", help="musicgen: hub id or local folder (default facebook/musicgen-small)")
    p.add_argument("--melody", metavar="FILE", help="musicgen-melody: a theme (audio file) every mood plays a variation of")
    p.add_argument("--format", default="ogg", help="ogg (default; Vorbis comments LOOPSTART/LOOPLENGTH) or wav (smpl chunk)")
    p.add_argument("--bars", type=int, default=16, help="bars per loop (default 16; a multiple of 8 closes the phrase)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--intensity", type=float, default=1.0,
                   help="intensity the loops are rendered at (default 1: every layer); layers say where they enter")
    p.add_argument("--transition-bars", type=int, default=2, help="1 or 2 bars per transition (default 2)")
    p.add_argument("--transition", action="append", default=[], metavar="FROM:TO",
                   help="render only these transitions (repeatable; default every ordered pair)")
    p.add_argument("--no-midi", action="store_true", help="skip the MIDI files (musicgen writes none)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--ray", metavar="ADDRESS", help="run the render jobs on this Ray cluster (pip install 'adaptive-music[ray]')")
    p.add_argument("--preview", type=Path, metavar="PNG", help="also draw a contact sheet of every loop and transition")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


class _Progress:
    """A one-line job counter on stderr, redrawn in place on a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled = total, 0, enabled
        self.live = sys.stderr.isatty()
        self.start = time.perf_counter()

    def __call__(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        bar = "#" * (30 * self.done // self.total)
        line = f"[{bar:<30}] {self.done}/{self.total} {label:<20} {time.perf_counter() - self.start:6.1f} s"
        sys.stderr.write(("\r" + line) if self.live else line + "\n")
        if self.live and self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _spec(args: argparse.Namespace):
    from ..mood.maps import MoodMapError, load_mood_map
    from ..stems.spec import StemsError, check_output_folder, spec_from_map

    try:
        mood_map = load_mood_map(args.moods)
    except MoodMapError as exc:
        raise UsageError(str(exc)) from None
    pairs = []
    for item in args.transition:
        a, sep, b = item.partition(":")
        if not sep:
            raise UsageError(f"--transition takes FROM:TO, got {item!r}")
        pairs.append((a, b))
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    try:
        spec = spec_from_map(mood_map, args.mood, bars=args.bars, seed=args.seed, intensity=args.intensity,
                             transition_bars=args.transition_bars, format=args.format,
                             transitions=tuple(pairs) if pairs else None, midi=False if args.no_midi else None,
                             backend=args.backend, model=args.model, melody=args.melody)
        check_output_folder(args.out)
        if args.preview:
            check_output_folder(args.preview.parent)
    except StemsError as exc:
        raise UsageError(str(exc)) from None
    if args.preview:
        from .plot import require_matplotlib

        require_matplotlib()
    if spec.backend == "musicgen":
        from ..stems.musicgen import load_model

        backends.load_musicgen(spec.model, spec.melody, loader=load_model)  # bad weights: exit 2 before rendering
    if args.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--ray needs the ray package (pip install 'adaptive-music[ray]')") from None
    return spec


def run(args: argparse.Namespace) -> int:
    from ..stems.build import build_stems

    spec = _spec(args)
    sources = {a for a, _ in spec.pairs()}
    progress = _Progress(len(spec.moods) + len(sources), enabled=not args.quiet)
    start = time.perf_counter()
    try:
        manifest = build_stems(spec, args.out, jobs=args.jobs, ray_address=args.ray, progress=progress,
                               command=sys.argv[1:])
    except Exception as exc:  # offline there is no fallback: say what failed; the manifest is not written
        sys.stderr.write("\n" if progress.live and not args.quiet else "")  # end the progress bar
        print(f"adaptive-music stems: the {spec.backend} backend failed: {type(exc).__name__}: {exc}; "
              f"no manifest was written", file=sys.stderr)
        return EXIT_BACKEND_FAILED
    from ..stems.godot import write_godot

    write_godot(args.out, manifest)
    if args.preview:
        from ..stems.preview import contact_sheet

        contact_sheet(args.out, manifest, args.preview)
    if not args.quiet:
        print(f"wrote {args.out}: {len(manifest['moods'])} moods, {len(manifest['transitions'])} transitions, "
              f"{manifest['files_written']} files written, {manifest['files_unchanged']} unchanged, "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0
