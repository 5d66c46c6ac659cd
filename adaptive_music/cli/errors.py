"""How subcommands report bad input: one line on stderr and exit code 2."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user; the message is printed as one line."""


EXIT_USAGE = 2
