"""Entry point: ``adaptive-music SUBCOMMAND ...``."""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import EXIT_USAGE, UsageError

# Each module has add_parser(subparsers) and run(args) -> int.
_SUBCOMMANDS = ("render", "explain", "play", "serve", "stems", "studio")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adaptive-music",
                                     description="Real-time adaptive soundtracks for games.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:  # a subcommand whose module is not installed
            if exc.name and exc.name.startswith(__package__):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"adaptive-music {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
