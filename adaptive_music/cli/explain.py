"""``adaptive-music explain-mood``: show the musical parameters a text mood maps to."""

from __future__ import annotations

import argparse
import json

from .errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explain-mood", help="print the musical parameters chosen for a mood text")
    p.add_argument("text", help='the mood, e.g. "tense stealth, low strings"')
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def explanation(text: str) -> dict:
    """What ``explain-mood --json`` prints for ``text``: :func:`~adaptive_music.mood.text.explain_mood`
    plus the procedural ensemble. Raises MoodError for a text that is no mood."""
    from ..models.procedural.arrangement import ensemble
    from ..mood.text import explain_mood, parse_mood

    info = explain_mood(text)
    info["ensemble"] = ensemble(text, parse_mood(text)).describe()
    return info


def run(args: argparse.Namespace) -> int:
    from ..mood.text import MoodError

    try:
        info = explanation(args.text)
    except MoodError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    params = info["params"]
    print(f"mood: {args.text}")
    for key in ("valence", "arousal", "tension", "tempo", "density", "brightness"):
        print(f"  {key:<11} {params[key]}")
    print(f"  {'tags':<11} {', '.join(params['tags']) or '-'}")
    for w in info["words"]:
        how = "" if w["how"] in ("exact", "table") else f" ({w['how']}: {w['matched']})"
        pulls = ", ".join(f"{k} {v:g}" for k, v in w["pulls"].items())
        print(f"  word {w['word']!r}{how}: {pulls or 'tags only'}")
        if "neighbours" in w:  # read from the word table: say which vocabulary words gave it its meaning
            near = ", ".join(f"{n['anchor']} {n['weight']:.0%} (similarity {n['similarity']:.2f})" for n in w["neighbours"])
            print(f"    means like: {near}")
    for u in info["unknown"]:
        print(f"  unknown {u['word']!r} -> {u['fallback'] or 'neutral'}")
    ens = info["ensemble"]
    print(f"  ensemble    {ens['genre'] or 'from the mood'}{', solo' if ens['solo'] else ''}, {ens['kit']} kit")
    for role, r in ens["roles"].items():
        print(f"    {role:<6} {r['instrument']}" + (f" (velocity {r['velocity']:+d})" if r["velocity"] else ""))
    return 0
