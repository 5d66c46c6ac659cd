"""``adaptive-music serve`` (the bridge) and ``adaptive-music keygen`` (its CURVE keys)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import signal
import sys
from pathlib import Path
from typing import Any, Iterator

from . import warmup
from .errors import UsageError

EXIT_NO_DEVICE = 1
OUTPUTS = ("device", "engine", "file")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` and ``keygen`` subcommands."""
    from ..bridge.protocol import DEFAULT_COMMANDS, DEFAULT_EVENTS

    serve = subparsers.add_parser(
        "serve",
        help="play a live soundtrack that games control over ZeroMQ",
        description="Play a live soundtrack and serve the bridge protocol (bridge/PROTOCOL.md): "
        "commands on a ROUTER socket, events on a PUB socket. Stop with Ctrl-C or SIGTERM.",
    )
    add_live_arguments(serve, DEFAULT_COMMANDS, DEFAULT_EVENTS)
    serve.add_argument("--curve-keys", type=Path, metavar="DIR",
                       help="encrypt, and admit only clients with a key in DIR/clients (see keygen)")
    serve.set_defaults(run=run, bridge_command="serve")

    keygen = subparsers.add_parser(
        "keygen",
        help="create CURVE keys for an encrypted bridge",
        description="Create a server key pair and client key pairs in DIR, for serve --curve-keys DIR. "
        "Existing keys are kept.",
    )
    keygen.add_argument("directory", type=Path, metavar="DIR")
    keygen.add_argument("--client", action="append", metavar="NAME",
                        help="name of a client key pair to create (repeatable; default: client)")
    keygen.set_defaults(run=run, bridge_command="keygen")


def add_live_arguments(parser: argparse.ArgumentParser, commands: str, events: str, *,
                       moods: str = "TOML mood map for game events (default: the shipped action-adventure example)",
                       moods_required: bool = False) -> None:
    """The arguments of a live soundtrack behind a bridge server (``serve`` and ``studio``)."""
    parser.add_argument("--commands", default=commands, metavar="ADDR",
                        help=f"ZeroMQ address for commands (default {commands}; port * picks a free one)")
    parser.add_argument("--events", default=events, metavar="ADDR",
                        help=f"ZeroMQ address for events (default {events})")
    parser.add_argument("--moods", type=Path, metavar="FILE", required=moods_required, help=moods)
    parser.add_argument("--backend", default="procedural", help="procedural (default) or musicgen")
    warmup.add_arguments(parser)
    parser.add_argument("--mood", default="calm exploration, soft strings",
                        help="starting mood: a text, or a name from the mood map")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ahead", type=float, default=0.05, metavar="SECONDS",
                        help="music generated ahead of the output (default 0.05, which keeps set_mood within "
                        "200 ms of being heard); raise it if status reports underruns (see bench/bridge.py)")
    parser.add_argument("--output", choices=OUTPUTS, default=None,
                        help="where the music goes: device (the default) plays it on a sound device; engine opens "
                        "none, a game engine pulls it into its own mixer (audio_open/audio_pull, PROTOCOL.md); "
                        "file is --no-audio")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--device", metavar="NAME", help="audio output device (default: the system default)")
    output.add_argument("--no-audio", action="store_true",
                        help="no sound card: run the same real-time pipeline against a clocked file sink "
                        "(the same as --output file)")
    parser.add_argument("--record", type=Path, metavar="WAV",
                        help="with --output file (--no-audio), write the output to this WAV file")


def run(args: argparse.Namespace) -> int:
    """Run ``serve`` or ``keygen`` from parsed arguments; return the exit status."""
    if args.bridge_command == "keygen":
        return _keygen(args)
    return _serve(args)


def _keygen(args: argparse.Namespace) -> int:
    from ..bridge.keys import generate_keys

    try:
        written = generate_keys(args.directory, tuple(args.client or ("client",)))
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"all keys already exist in {args.directory}")
    print(f"serve with: adaptive-music serve --curve-keys {args.directory}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..bridge.keys import ServerKeys

    try:
        curve = ServerKeys.load(args.curve_keys) if args.curve_keys else None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        with serving(args, curve=curve) as server:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: server.stop())
            # Tools and tests read the bound addresses from this line.
            print(f"serving commands on {server.commands_endpoint} events on {server.events_endpoint}", flush=True)
            server.wait()
    except LiveFailed as exc:
        print(f"adaptive-music serve: {exc}", file=sys.stderr)
        return EXIT_NO_DEVICE
    return 0


class LiveFailed(Exception):
    """The soundtrack or its bridge could not start (no sound device, an address taken): exit status 1."""


@contextlib.contextmanager
def serving(args: argparse.Namespace, *, curve: Any = None, record_controls: bool = False) -> Iterator[Any]:
    """Start the live soundtrack and its bridge :class:`~adaptive_music.bridge.Server` from
    :func:`add_live_arguments`' ``args``; yield the started server, stop both on exit.
    ``record_controls`` keeps the soundtrack's control calls (to render what it played).

    Bad arguments raise UsageError, a missing device or an untakeable address LiveFailed.
    """
    from ..bridge.server import Server
    from ..mood.maps import EXAMPLE, MoodMapError, load_mood_map
    from ..playback.device import ClockedFileSink, DeviceNotFoundError, NoAudioDeviceError
    from ..playback.engine_output import EngineOutput
    from ..playback.soundtrack import Soundtrack

    if args.no_audio and args.output not in (None, "file"):
        raise UsageError(f"--no-audio is --output file; it cannot go with --output {args.output}")
    mode = "file" if args.no_audio else args.output or "device"
    if args.record is not None and mode != "file":
        raise UsageError("--record needs --output file (or --no-audio)")
    if args.device is not None and mode != "device":
        raise UsageError(f"--device needs --output device; with --output {mode} no sound device is opened")
    if not (math.isfinite(args.ahead) and 0 < args.ahead <= 10):
        raise UsageError(f"--ahead must be between 0 and 10 seconds, got {args.ahead:g}")
    try:
        moods = load_mood_map(args.moods or EXAMPLE)
    except MoodMapError as exc:
        raise UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.melody is None and moods.melody is not None and args.backend == "musicgen":
        args.melody = str(moods.melody)  # the map's theme, unless --melody names another
    live = warmup.prepare(args, args.ahead, seconds=None)
    sink = ClockedFileSink(args.record) if mode == "file" else EngineOutput() if mode == "engine" else None
    try:
        soundtrack = Soundtrack(backend=live.backend, seed=args.seed, mood=moods.mood_text(args.mood),
                                device=args.device, sink=sink, ahead=live.ahead, fallback=live.fallback,
                                record_controls=record_controls)
    except NoAudioDeviceError as exc:
        raise LiveFailed(str(exc)) from None
    except (DeviceNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    with soundtrack:
        server = Server(soundtrack, commands=args.commands, events=args.events, moods=moods, curve=curve)
        try:
            server.start()
        except OSError as exc:
            raise LiveFailed(str(exc)) from None
        try:
            yield server
        finally:
            server.stop()
    if args.record is not None:
        print(f"wrote {args.record}")
