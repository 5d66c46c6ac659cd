"""Text moods to musical parameters, through a curated vocabulary and a word table.

Every recognised word pulls the fields it is about towards its values; the
result per field is a weighted mean of those values and the neutral
default. Degree words ("very", "slightly") scale how far the next word
moves from neutral, negations ("not", "no") flip it to half its opposite
or leave an instrument out. A word outside the vocabulary takes its meaning
from the distilled word table (:mod:`~adaptive_music.mood.wordtable`): a mix
of the vocabulary words nearest to it in meaning. Only a word that is in
neither gets a close spelling ("goblinz") or is ignored, and
:func:`explain_mood` says which. A text is refused when no word in it means
anything. Parsing is deterministic.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import unicodedata
from typing import Any

import numpy as np

from . import vocabulary as vocab
from .params import MoodParams
from .wordtable import word_table

MAX_MOOD_CHARS = 500
"""Longer mood texts are rejected as garbled."""

NEUTRAL = MoodParams()
"""The mood of no words at all."""

_NEUTRAL_WEIGHT = 0.3
"""Pull of the neutral default on each field, against 1.0 for a plain word."""

_NEGATION = -0.5
"""A negated word moves the other way, half as far."""

_MAX_IMPLIED_TAGS = 3

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:['-][a-z]+)*|[,.;:!?]")
_WORDS = {**vocab.MOOD_WORDS, **vocab.INSTRUMENT_WORDS}
_SPELLINGS = sorted(w for w in _WORDS if " " not in w)
_LETTERS = "abcdefghijklmnopqrstuvwxyz-'"


def _letter_counts(word: str) -> np.ndarray:
    counts = np.zeros(len(_LETTERS) + 1, np.int16)  # the last column counts any other character
    for ch in word:
        i = _LETTERS.find(ch)
        counts[i] += 1  # find() gives -1, the last column, for others
    return counts


_SPELLING_COUNTS = np.array([_letter_counts(w) for w in _SPELLINGS])
_SPELLING_LENGTHS = np.array([len(w) for w in _SPELLINGS])
_SPELLING_CUTOFF = 0.8


class MoodError(ValueError):
    """A mood text that cannot be read: empty, garbled or too long."""


@dataclasses.dataclass(frozen=True)
class _Match:
    word: str
    """The word (or phrase) as written."""
    entry_word: str
    how: str
    """'exact', 'phrase', 'stem', 'table' (read by meaning) or 'spelling' (a close match).
    A compound ("synthwave") is read as its two words."""
    scale: float
    """Degree: 1 plain, >1 intensified, <1 softened, negative when negated."""
    modifiers: tuple[str, ...]

    @property
    def entry(self) -> vocab.Entry:
        if self.how == "table":
            return word_table().entry(self.entry_word)
        return vocab.PHRASES.get(self.entry_word) or _WORDS[self.entry_word]


@dataclasses.dataclass(frozen=True)
class _Analysis:
    params: MoodParams
    matches: tuple[_Match, ...]
    unknown: tuple[tuple[str, str], ...]
    """(word, what it fell back to: a vocabulary word or 'neutral')."""
    ignored: tuple[str, ...]
    tags_from: str
    bpm: float | None


def parse_mood(text: str) -> MoodParams:
    """Musical parameters for a mood text such as ``"calm forest at dawn, soft strings"``.

    Raises :class:`MoodError` for an empty, garbled or over-long text.
    """
    return _analysis(text).params


def explain_mood(text: str) -> dict[str, Any]:
    """What :func:`parse_mood` chose for ``text`` and why, as plain JSON-able data.

    Keys: ``text``; ``params`` (the chosen parameters); ``words`` (each
    recognised word or phrase: the vocabulary word it matched, how, its
    modifiers and the values it pulled towards; a word read from the word
    table also lists its ``neighbours``: the vocabulary words that gave it its
    meaning, with their similarity and weight); ``unknown`` (words in neither
    the vocabulary nor the table and what stood in for each, a close word or
    ``"neutral"``);
    ``ignored`` (grammar words and stray numbers); ``tags_from``
    (``"text"`` when instruments were named, ``"mood"`` when suggested by mood
    words, ``"none"``); ``bpm`` (an explicit "N bpm", or None).
    """
    a = _analysis(text)
    words = []
    for m in a.matches:
        values, tags = _contribution(m)
        neighbours = word_table().neighbours(m.entry_word) if m.how == "table" else ()
        words.append({
            "word": m.word,
            "matched": m.entry_word,
            "how": m.how,
            "modifiers": list(m.modifiers),
            "instrument": m.entry.instrument,
            "weight": round(m.entry.weight * max(1.0, abs(m.scale)), 3),
            "pulls": {k: round(v, 3) for k, v in values.items()},
            "tags": sorted(tags),
            **({"neighbours": [dataclasses.asdict(n) for n in neighbours]} if neighbours else {}),
        })
    return {
        "text": text,
        "params": a.params.as_dict(),
        "words": words,
        "unknown": [{"word": w, "fallback": f} for w, f in a.unknown],
        "ignored": list(a.ignored),
        "tags_from": a.tags_from,
        "bpm": a.bpm,
    }


def _analysis(text: str) -> _Analysis:
    if not isinstance(text, str):  # before the cache, which needs a hashable key
        raise TypeError(f"mood text must be a string, not {type(text).__name__}")
    return _analyse(text)


def _fold(text: str) -> str:
    if len(text) > MAX_MOOD_CHARS:
        raise MoodError(f"mood text is too long ({len(text)} characters; the limit is {MAX_MOOD_CHARS})")
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            raise MoodError(f"mood text contains a control character (U+{ord(ch):04X})")
    if not text.strip():
        raise MoodError("mood text is empty")
    # Fold case and accents so "Café" reads as "cafe".
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return folded.replace("\u2019", "'")


def _tokens(folded: str) -> list[str]:
    out: list[str] = []
    table = word_table()
    for tok in _TOKEN.findall(folded):
        if tok.endswith("'s") and tok not in table:
            tok = tok[:-2]  # "keeper's" reads as "keeper"
        if "-" in tok and tok not in _WORDS and tok not in table:
            out.extend(tok.split("-"))  # "low-key" reads as "low key"
        else:
            out.append(tok)
    return out


def _stems(word: str) -> list[str]:
    """Likely base forms of an inflected word, most likely first."""
    out = []
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("es"):
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    for suffix in ("ing", "ed", "er", "est"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            out += [base, base + "e"]
            if len(base) > 2 and base[-1] == base[-2]:
                out.append(base[:-1])  # "running" -> "run"
            if base.endswith("i"):
                out.append(base[:-1] + "y")  # "happier" -> "happy"
    if word.endswith("ly"):
        out += [word[:-2], word[:-1] + "e"]  # "calmly", "gently"
        if word.endswith("ily"):
            out.append(word[:-3] + "y")
    if word.endswith("ness"):
        out.append(word[:-4])
    if word.endswith("y"):
        out.append(word[:-1])  # "stormy" -> "storm"
        if len(word) > 3 and word[-2] == word[-3]:
            out.append(word[:-2])  # "foggy" -> "fog"
    out.append(word + "s")  # "goblin" -> "goblins"
    return out


def _lookup(word: str) -> tuple[str, str] | None:
    """(vocabulary or table word, how) for ``word``, or None.

    A base form in the vocabulary wins over the table only where the table
    agrees it means the same ("stormy" is near "storm"; "stranger" is not
    near "strange"). A close spelling is tried only for words in neither, so
    it never overrides a real word's meaning ("drifting" is not "driving").
    """
    if word in _WORDS:
        return word, "exact"
    table = word_table()
    near = {n.anchor for n in table.neighbours(word)} if word in table else None
    for stem in _stems(word):
        if stem in _WORDS and (near is None or stem in near):
            return stem, "stem"
    if near is not None:
        return word, "table"
    halves = _compound(word)
    if halves is not None:
        return " ".join(halves), "compound"
    if len(word) >= 3:
        close = _close_spelling(word)
        if close is not None:
            return close, "spelling"
    return None


def _close_spelling(word: str) -> str | None:
    """What ``difflib.get_close_matches(word, _SPELLINGS, n=1, cutoff=0.8)`` returns,
    about ten times faster: only words whose shared letters could reach the cutoff
    (difflib's quick_ratio bound, for all words at once) are compared in full."""
    shared = np.minimum(_SPELLING_COUNTS, _letter_counts(word)).sum(axis=1)
    possible = np.flatnonzero(2.0 * shared >= _SPELLING_CUTOFF * (_SPELLING_LENGTHS + len(word)))
    scored = [(difflib.SequenceMatcher(None, _SPELLINGS[i], word).ratio(), _SPELLINGS[i]) for i in possible]
    best = max(scored, default=(0.0, None))
    return best[1] if best[0] >= _SPELLING_CUTOFF else None


def _compound(word: str) -> tuple[str, str] | None:
    """Two known words of four letters or more that ``word`` is written as ("synthwave")."""
    table = word_table()
    for cut in range(len(word) - 4, 3, -1):
        left, right = word[:cut], word[cut:]
        if (left in _WORDS or left in table) and (right in _WORDS or right in table):
            return left, right
    return None


@functools.lru_cache(maxsize=512)
def _analyse(text: str) -> _Analysis:
    tokens = _tokens(_fold(text))
    matches: list[_Match] = []
    unknown: list[tuple[str, str]] = []
    ignored: list[str] = []
    bpm: float | None = None
    recognised = False
    pending: list[str] = []  # degree words and negations waiting for their word
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        i += 1
        if tok in ",.;:!?":
            pending = []
            continue
        if tok[0].isdigit():
            if nxt == "bpm":
                bpm, recognised = float(tok), True
                i += 1
            else:
                ignored.append(tok)
            continue
        if f"{tok} {nxt}" in vocab.PHRASES:
            matches.append(_modified(f"{tok} {nxt}", f"{tok} {nxt}", "phrase", pending))
            pending, recognised = [], True
            i += 1
            continue
        if tok in vocab.INTENSIFIERS or tok in vocab.NEGATORS:
            pending.append(tok)
            continue
        if tok in vocab.NEUTRAL_WORDS:
            recognised = True
            continue
        if tok in vocab.STOPWORDS:
            ignored.append(tok)
            continue
        found = _lookup(tok)
        if found is None:
            unknown.append((tok, "neutral"))
            continue
        entry_word, how = found
        if how == "compound":
            tokens[i:i] = entry_word.split()  # read each part, with the pending modifiers
            continue
        if how == "spelling":
            unknown.append((tok, entry_word))
        matches.append(_modified(tok, entry_word, how, pending))
        pending, recognised = [], True
    if not recognised:
        raise MoodError(
            f"no mood words recognised in {text.strip()!r}; "
            "describe a scene or feeling, e.g. 'calm forest' or 'tense boss battle'"
        )
    params, tags_from = _combine(matches, bpm)
    return _Analysis(params, tuple(matches), tuple(unknown), tuple(ignored), tags_from, bpm)


def _modified(word: str, entry_word: str, how: str, pending: list[str]) -> _Match:
    scale = 1.0
    for mod in pending:
        scale *= _NEGATION if mod in vocab.NEGATORS else vocab.INTENSIFIERS[mod]
    return _Match(word, entry_word, how, scale, tuple(pending))


def _contribution(m: _Match) -> tuple[dict[str, float], frozenset[str]]:
    """The values a match pulls towards (after its modifiers), and its tags.
    A negated instrument only leaves its tags out."""
    if m.scale < 0 and m.entry.instrument:
        return {}, frozenset()
    values = {}
    for name, value in m.entry.values.items():
        neutral = getattr(NEUTRAL, name)
        values[name] = neutral + m.scale * (value - neutral)
    clamped = MoodParams(**values)
    negated = m.scale < 0
    return {k: getattr(clamped, k) for k in values}, frozenset() if negated else m.entry.tags


def _combine(matches: list[_Match], bpm: float | None) -> tuple[MoodParams, str]:
    sums = {name: _NEUTRAL_WEIGHT * getattr(NEUTRAL, name) for name in NEUTRAL.as_dict() if name != "tags"}
    weights = dict.fromkeys(sums, _NEUTRAL_WEIGHT)
    named: set[str] = set()
    suggested: dict[str, float] = {}
    excluded: set[str] = set()
    for m in matches:
        values, tags = _contribution(m)
        w = m.entry.weight * max(1.0, abs(m.scale))
        for name, value in values.items():
            sums[name] += w * value
            weights[name] += w
        if m.scale < 0:
            excluded |= m.entry.tags if m.entry.instrument else set()
        elif m.entry.instrument:
            named |= tags
        else:
            for tag in tags:
                suggested[tag] = suggested.get(tag, 0.0) + w
    fields = {name: sums[name] / weights[name] for name in sums}
    if bpm is not None:
        fields["tempo"] = bpm
    # Instruments named in the text replace those the mood words suggest.
    if named:
        tags, tags_from = named - excluded, "text"
    else:
        ranked = sorted((t for t in suggested if t not in excluded), key=lambda t: (-suggested[t], t))
        top = suggested[ranked[0]] if ranked else 0.0
        tags = {t for t in ranked[:_MAX_IMPLIED_TAGS] if suggested[t] >= 0.5 * top}
        tags_from = "mood" if tags else "none"
    return MoodParams(tags=frozenset(tags), **fields), tags_from
