"""``adaptive-music play``: play a live soundtrack on the sound device, steered from the keyboard."""

from __future__ import annotations

import argparse
import math
import sys
import threading
from pathlib import Path

from . import timeline, warmup
from .errors import UsageError

EXIT_NO_DEVICE = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "play", help="play live music on the sound device; type a new mood to change it",
        description="Play a live soundtrack. While it plays, type a mood and press Enter to move to it. "
                    "Stop with Ctrl-C (or Ctrl-D when --seconds is not given).")
    timeline.add_arguments(p)
    p.add_argument("--seconds", type=float, help="stop after this much music (default: play until stopped)")
    p.add_argument("--backend", default="procedural", help="procedural (default) or musicgen")
    warmup.add_arguments(p)
    p.add_argument("--device", help="output device name or index (default: the system default)")
    p.add_argument("--latency", type=float, default=20.0, metavar="MS", help="device latency in ms (default 20)")
    p.add_argument("--max-latency", type=float, metavar="MS",
                   help="PulseAudio: widen the device buffer after underflows, up to this many ms, and narrow "
                        "it again after two calm minutes (default 100, or --latency when larger; equal to --latency keeps it fixed)")
    p.add_argument("--stems", type=Path, metavar="DIR",
                   help="audition a stems build instead (--mood then names one of its moods); "
                        "type a mood name, 'intensity X' or 'stinger NAME'")
    for action in p._actions:
        if action.dest == "mood":
            action.required = False  # checked in run: a stems build starts on its first mood
    p.add_argument("--soundfont", metavar="PATH",
                   help="procedural: play sampled instruments from this General MIDI SoundFont (default "
                        "'auto': $ADAPTIVE_MUSIC_SOUNDFONT, then the usual places, else the built-in "
                        "synthesizer, reported as a fallback; 'none': the built-in synthesizer)")
    p.set_defaults(run=run)


def device_latencies(args: argparse.Namespace) -> tuple[float, float]:
    """(--latency, --max-latency) in seconds, checked."""
    if not (math.isfinite(args.latency) and 0 < args.latency <= 2000):
        raise UsageError(f"--latency must be between 0 and 2000 ms, got {args.latency:g}")
    most = max(args.latency, 100.0) if args.max_latency is None else args.max_latency
    if not (math.isfinite(most) and args.latency <= most <= 2000):
        raise UsageError(f"--max-latency must be between --latency and 2000 ms, got {most:g}")
    return args.latency / 1000, most / 1000


def _check(args: argparse.Namespace) -> list[tuple[float, str]]:
    if args.seconds is not None and not (math.isfinite(args.seconds) and args.seconds > 0):
        raise UsageError(f"--seconds must be a positive number, got {args.seconds:g}")
    return timeline.changes(args, None)


def _status_line(status: dict) -> str:
    where = f"{status['bar'] + 1}:{status['beat'] + 1}" if status["bar"] is not None else "-:-"
    bpm = f"{status['bpm']:.0f} bpm" if status["bpm"] else "  - bpm"
    state = "paused" if status["paused"] else f"{status['playhead']:7.1f} s"
    return (f"{state}  bar {where:>7}  {bpm}  buffer {status['buffered'] * 1000:4.0f} ms  "
            f"underruns {status['underruns']}  {_backend(status)}  mood: {status['mood'][:40]}")


def _backend(status: dict) -> str:
    """The backend playing, marked when it is a fallback."""
    return f"{status['backend']} (fallback)" if status["fallback"] else status["backend"]


def _read_moods(music, args: argparse.Namespace, done: threading.Event) -> None:
    """Each line typed on stdin is a new mood; Ctrl-D at a terminal ends playback unless --seconds is set."""
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        try:
            music.set_mood(text, transition=args.transition, ramp=args.ramp)
        except ValueError as exc:
            sys.stderr.write(f"\nnot a usable mood: {exc}\n")
    if args.seconds is None and sys.stdin.isatty():
        done.set()


def run(args: argparse.Namespace) -> int:
    from ..playback.device import DeviceNotFoundError, NoAudioDeviceError
    from ..playback.soundtrack import Soundtrack

    if args.stems is not None:
        from .play_stems import run_stems

        return run_stems(args)
    if args.mood is None:
        raise UsageError("--mood is required (or --stems DIR)")
    changes = _check(args)
    latency, max_latency = device_latencies(args)  # checked before a model loads
    live = warmup.prepare(args, ahead=0.05, seconds=args.seconds)
    try:
        sampled = {"soundfont": args.soundfont} if args.soundfont and live.backend == "procedural" else {}
        music = Soundtrack(backend=live.backend, seed=args.seed, mood=args.mood, device=args.device,
                           latency=latency, max_latency=max_latency, seconds=args.seconds, ahead=live.ahead,
                           fallback=live.fallback, **sampled)
        music.set_intensity(args.intensity)
    except NoAudioDeviceError as exc:
        print(f"adaptive-music play: {exc}", file=sys.stderr)
        return EXIT_NO_DEVICE
    except (DeviceNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    fallback = live.fallback
    tty = sys.stderr.isatty()
    done = threading.Event()
    with music:
        threading.Thread(target=_read_moods, args=(music, args, done), daemon=True).start()
        while not (music.wait(0.1) or done.is_set()):
            status = music.status()
            if status["fallback"] != fallback:  # say it at once, not only on a terminal
                fallback = status["fallback"]
                sys.stderr.write(f"\nnow playing {status['backend']}: {fallback}\n")
            while changes and status["playhead"] >= changes[0][0]:
                music.set_mood(changes.pop(0)[1], transition=args.transition, ramp=args.ramp)
            if status["error"]:
                break
            if tty:
                sys.stderr.write("\r" + _status_line(status) + "\x1b[K")
                sys.stderr.flush()
        status = music.status()
    if tty:
        sys.stderr.write("\n")
    print(f"played {status['playhead']:.1f} s, {status['underruns']} underruns, "
          f"{status['output_underflows']} device underflows ({status['lost_seconds'] * 1000:.0f} ms of silence "
          f"in {status['holes']} holes, device buffer {status['latency'] * 1000:.0f} ms); mood: {status['mood']}; "
          f"backend: {_backend(status)}", file=sys.stderr)
    if status["fallback"]:
        print(f"adaptive-music play: {status['fallback']}", file=sys.stderr)
    if status["error"]:
        print(f"adaptive-music play: the generator failed: {status['error']}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run this module alone: ``python -m adaptive_music.cli.play --mood ...``."""
    parser = argparse.ArgumentParser(prog="adaptive-music")
    add_parser(parser.add_subparsers(required=True))
    args = parser.parse_args(["play", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except UsageError as exc:
        print(f"adaptive-music play: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
