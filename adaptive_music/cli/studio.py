"""``adaptive-music studio``: a web page to audition, watch and edit a mood map live."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

from .errors import UsageError
from .serve import EXIT_NO_DEVICE, LiveFailed, add_live_arguments, serving

DEFAULT_PORT = 8777
LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    studio = subparsers.add_parser(
        "studio",
        help="a local web page to audition, watch and edit a mood map while it plays",
        description="Play a live soundtrack behind a bridge server (as serve does) and open a studio page "
        "on http://127.0.0.1:PORT/: fire the map's events, moods and stingers, watch the beat grid, edit "
        "and save the map. The page is a bridge client. Stop with Ctrl-C or SIGTERM.",
    )
    add_live_arguments(studio, LOOPBACK_ANY_PORT, LOOPBACK_ANY_PORT, moods_required=True,
                       moods="TOML mood map the studio plays, and saves edits to (required)")
    studio.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the page's port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    studio.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..mood.maps import MoodMapError, load_mood_map

    try:
        from ..studio import MapFile, StemsPreview, Timeline, make_app
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        raise UsageError("the studio needs aiohttp: pip install 'adaptive-music[studio]'") from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    map_file = MapFile(args.moods)
    try:
        with serving(args, record_controls=True) as server:
            try:
                moods = load_mood_map(map_file.path)  # the map as saved: the editor's starting point
            except MoodMapError as exc:  # changed since serving() read it
                raise UsageError(str(exc)) from None
            with tempfile.TemporaryDirectory(prefix="adaptive-music-studio-stems-") as stems:
                app = make_app(map_file, moods, server.commands_endpoint, server.events_endpoint,
                               server.replace_moods, timeline=Timeline(server.soundtrack),
                               stems=StemsPreview(Path(stems)))
                asyncio.run(_serve_page(app, args.port, server))
    except LiveFailed as exc:
        print(f"adaptive-music studio: {exc}", file=sys.stderr)
        return EXIT_NO_DEVICE
    except OSError as exc:  # the page's port is taken
        print(f"adaptive-music studio: cannot serve the page on 127.0.0.1:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_NO_DEVICE
    return 0


async def _serve_page(app, port: int, server) -> None:
    from ..studio.app import serve_studio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def ready(url: str) -> None:
        # Tools and tests read the addresses from this line.
        print(f"studio on {url} bridge commands on {server.commands_endpoint} events on {server.events_endpoint}",
              flush=True)

    await serve_studio(app, port, stop, ready)
