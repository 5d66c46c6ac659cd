"""``adaptive-music play --stems DIR``: audition a stems build through the playback stage."""

from __future__ import annotations

import argparse
import sys
import threading

from .errors import UsageError
from .play import device_latencies


def _commands(player, lines) -> None:
    """Each line: a mood name, ``intensity X`` or ``stinger NAME``."""
    try:
        _apply(player, lines)
    except OSError:  # no readable stdin (a test runner, a service): play without commands
        pass


def _apply(player, lines) -> None:
    for line in lines:
        words = line.split()
        try:
            if len(words) == 2 and words[0] == "intensity":
                player.set_intensity(float(words[1]))
            elif len(words) == 2 and words[0] == "stinger":
                player.stinger(words[1])
            elif len(words) == 1:
                player.set_mood(words[0])
        except ValueError as exc:
            sys.stderr.write(f"\n{exc}\n")


def run_stems(args: argparse.Namespace, output=None) -> int:
    from ..playback.device import DeviceNotFoundError, DeviceOutput, NoAudioDeviceError
    from ..stems.player import StemPlayer, play_stems

    try:
        player = StemPlayer(args.stems, mood=args.mood, intensity=args.intensity)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        latency, max_latency = device_latencies(args)
        output = output or DeviceOutput(args.device, latency=latency, max_latency=max_latency)
    except NoAudioDeviceError as exc:
        print(f"adaptive-music play: {exc}", file=sys.stderr)
        return 1
    except DeviceNotFoundError as exc:
        raise UsageError(str(exc)) from None
    threading.Thread(target=_commands, args=(player, sys.stdin), daemon=True).start()
    counts = play_stems(player, output, args.seconds)
    print(f"played {counts['played_seconds']:.1f} s of {args.stems}, {counts['underruns']} underruns, "
          f"{counts['output_underflows']} device underflows; mood: {player.mood}", file=sys.stderr)
    return 0
