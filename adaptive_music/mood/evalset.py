"""Scoring a mood parser against a set of ordered pairs of free-text moods.

The set is a TOML file (``tests/data/mood_eval.toml`` is the project's) with
``pairs`` (``[field, higher, lower]``: ``higher`` should have the larger
``field``), ``texts`` (more real moods that must be understood) and
``nonsense`` (texts that must be refused). :func:`split` fixes which pairs
tuning may look at; :func:`score` counts right, wrong and refused.
"""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path
from typing import Callable

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .params import MoodParams

FIELDS = ("valence", "arousal", "tension", "tempo", "brightness")

Pair = tuple[str, str, str]
"""(field, higher, lower)."""


@dataclasses.dataclass(frozen=True)
class EvalSet:
    pairs: tuple[Pair, ...]
    texts: tuple[str, ...]
    nonsense: tuple[str, ...]

    def half(self, name: str) -> tuple[Pair, ...]:
        """The pairs of one half: ``"tune"`` or ``"held-out"``."""
        if name not in ("tune", "held-out"):
            raise ValueError(f"half must be 'tune' or 'held-out', not {name!r}")
        return tuple(p for p in self.pairs if split(p) == name)

    def real_texts(self, pairs: tuple[Pair, ...] | None = None) -> list[str]:
        """``texts`` and every text of ``pairs`` (all pairs if None), without repeats."""
        out = dict.fromkeys(self.texts)
        for _, higher, lower in self.pairs if pairs is None else pairs:
            out.update(dict.fromkeys((higher, lower)))
        return list(out)


def split(pair: Pair) -> str:
    """``"tune"`` or ``"held-out"``: a fixed hash of the pair, so no one picks."""
    field, higher, lower = pair
    return "tune" if zlib.crc32(f"{field}|{higher}|{lower}".encode()) % 2 == 0 else "held-out"


def load_eval(path: str | Path) -> EvalSet:
    """Read and check an evaluation set."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    pairs = tuple(tuple(p) for p in doc["pairs"])
    for p in pairs:
        if len(p) != 3 or p[0] not in FIELDS:
            raise ValueError(f"{path}: a pair is [field, higher, lower] with field in {FIELDS}, got {p!r}")
    return EvalSet(pairs, tuple(doc.get("texts", ())), tuple(doc.get("nonsense", ())))  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Score:
    right: int
    wrong: tuple[Pair, ...]
    refused: tuple[str, ...]
    """Texts of the pairs that the parser refused."""
    total: int

    @property
    def accuracy(self) -> float:
        """Share of pairs ordered right; a pair with a refused text counts as wrong."""
        return self.right / self.total if self.total else 0.0


def score(pairs: tuple[Pair, ...], parse: Callable[[str], MoodParams], refusal: type[Exception]) -> Score:
    """Order each pair with ``parse``; ``refusal`` is the exception that means "refused"."""
    right, wrong, refused = 0, [], {}
    for pair in pairs:
        field, higher, lower = pair
        values = []
        for text in (higher, lower):
            try:
                values.append(getattr(parse(text), field))
            except refusal:
                refused[text] = None
        if len(values) == 2 and values[0] > values[1]:
            right += 1
        else:
            wrong.append(pair)
    return Score(right, tuple(wrong), tuple(refused), len(pairs))
