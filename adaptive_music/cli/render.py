"""``adaptive-music render``: render a mood timeline offline to a WAV file."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from . import backends, timeline
from .errors import UsageError

EXIT_BACKEND_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("render", help="render a mood timeline offline to a WAV file")
    timeline.add_arguments(p)
    p.add_argument("--seconds", type=float, required=True, help="length of the render")
    p.add_argument("--backend", default="procedural", help="procedural (default) or musicgen")
    backends.add_model_argument(p)
    p.add_argument("--prompt-audio", type=Path, help="musicgen: continue this recording")
    p.add_argument("-o", "--output", type=Path, required=True, help="the WAV file to write")
    p.add_argument("--format", choices=("pcm16", "pcm24", "float32"), default="pcm16",
                   help="WAV sample format (default pcm16, which every engine imports)")
    p.add_argument("--plot", type=Path, help="also draw the waveform and spectrogram with the mood timeline")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--soundfont", default="auto", metavar="PATH",
                   help="procedural: General MIDI SoundFont for sampled instruments; 'auto' (default) "
                        "looks in $ADAPTIVE_MUSIC_SOUNDFONT and the usual system places, 'none' uses "
                        "the built-in synthesizer")
    p.set_defaults(run=run)


def _check_output(path: Path, what: str) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory")
    if not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {what} {path}: permission denied")


def _changes(args: argparse.Namespace):
    from ..engine.timeline import MoodChange

    return [MoodChange(at, text, transition=args.transition, ramp=args.ramp)
            for at, text in timeline.changes(args, args.seconds)]


class _Progress:
    """A one-line progress bar with an ETA on stderr, and the speed at the end."""

    def __init__(self, seconds: float, enabled: bool):
        self.seconds = seconds
        self.enabled = enabled
        self.live = sys.stderr.isatty()  # redraw the bar only on a terminal
        self.start = time.perf_counter()
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.perf_counter()
        if not self.enabled:
            return
        elapsed = now - self.start
        if fraction >= 1.0:
            end = "\n" if self.live else ""
            sys.stderr.write(f"{end}rendered {self.seconds:g} s in {elapsed:.2f} s "
                             f"({self.seconds / max(elapsed, 1e-9):.0f}x real time)\n")
            return
        if not self.live or now - self.last < 0.1:
            return
        self.last = now
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
        bar = "#" * int(30 * fraction)
        sys.stderr.write(f"\r[{bar:<30}] {fraction * 100:5.1f}%  {fraction * self.seconds:6.1f}/"
                         f"{self.seconds:g} s  ETA {eta:5.1f} s")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from ..audio.wav import write_wav
    from ..engine.stream import render
    from ..models import BACKENDS, load_backend
    from ..models.base import Mood, check_intensity
    from ..mood.text import MoodError, parse_mood

    if args.backend not in BACKENDS:
        raise UsageError(f"unknown backend {args.backend!r}; choose one of: {', '.join(BACKENDS)}")
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        raise UsageError(f"--seconds must be a positive number, got {args.seconds:g}")
    if args.seconds > 3600:
        raise UsageError("--seconds is limited to one hour (render holds the audio in memory); "
                         "for longer, use serve --no-audio --record")
    try:
        check_intensity(args.intensity)
        for text in [args.mood] + [t for _, t in args.at]:
            parse_mood(text)
    except (MoodError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    changes = _changes(args)
    _check_output(args.output, "output")
    if args.plot:
        _check_output(args.plot, "plot")
        from .plot import require_matplotlib

        require_matplotlib()

    model, state = _load(args, load_backend)
    progress = _Progress(args.seconds, enabled=not args.quiet)
    try:
        result = render(model, Mood(args.mood, args.intensity), args.seconds, seed=args.seed, changes=changes,
                        progress=progress, initial_state=state)
    except Exception as exc:  # offline there is no fallback: say what failed, write nothing
        sys.stderr.write("\n" if progress.live and not args.quiet else "")  # end the progress bar
        print(f"adaptive-music render: the {model.name} backend failed: {type(exc).__name__}: {exc}; "
              f"nothing was written", file=sys.stderr)
        return EXIT_BACKEND_FAILED
    write_wav(args.output, result.audio, result.sample_rate, subtype=args.format)
    if args.plot:
        from .plot import plot_render

        plot_render(args.plot, result, args.mood, changes)
    if not args.quiet:
        print(f"wrote {args.output} ({args.seconds:g} s, {result.sample_rate} Hz, {result.audio.shape[1]} ch)",
              file=sys.stderr)
    return 0


def _load(args: argparse.Namespace, load_backend):
    """The backend, and a starting state when continuing a recording."""
    backends.check_melody(args)
    if args.backend == "procedural":
        if args.prompt_audio:
            raise UsageError("--prompt-audio needs --backend musicgen")
        from ..models.procedural import SoundFontError

        try:
            model = load_backend("procedural", soundfont=args.soundfont)
        except SoundFontError as exc:
            raise UsageError(str(exc)) from None
        # A built-in fallback is already logged by the backend with how to get a font.
        return model, None
    model = backends.load_musicgen(args.model, args.melody)
    if not args.prompt_audio:
        return model, None
    from ..models.musicgen import AudioPromptError, encode_prompt_audio

    try:
        codes = encode_prompt_audio(model, args.prompt_audio, model.default_config().context_seconds)
    except AudioPromptError as exc:
        raise UsageError(str(exc)) from None
    return model, model.initial_state_from_codes(codes)
