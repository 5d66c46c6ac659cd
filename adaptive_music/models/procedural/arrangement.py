"""The ensemble: which instrument plays each role, which roles play, and how loud.

Read from the mood text's instrument words and the mood's parameters:

- an instrument the text names leads (it takes the melody, and the accompanying
  role that suits it), and the roles the text does not call for step back;
- "solo" (or "alone", "unaccompanied") leaves the named instrument alone: a
  piano, guitar or harp plays melody, chords and bass itself, a melodic
  instrument plays only its melody; "quartet" keeps the string family alone;
- genre words choose whole ensembles: techno (synths, an electronic kit on
  four-on-the-floor), folk (guitar, acoustic bass, fiddle or flute, light hand
  percussion), orchestral, also "epic" and "cinematic" when no other genre is
  named (string sections, horns, timpani: the percussion steps back unless the
  text asks for drums), chiptune (square waves and a small electronic kit).

Roles: pad (held or repeated chords), bass, arp (broken chords), lead (the
melody), bells (sparkle) and drums. :func:`ensemble` is pure and cached.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from ...mood.params import MoodParams

ROLES = ("pad", "bass", "arp", "lead", "bells", "drums")
GENRES = ("techno", "folk", "orchestral", "chiptune")

# Instrument words the text may name beyond MoodParams' tags, and the instrument each leads with.
_EXTRA_WORDS = {"harp": "harp", "harps": "harp", "violin": "violin", "fiddle": "violin", "cello": "cello",
                "horn": "horns", "horns": "horns", "trumpet": "brass", "marimba": "marimba",
                "quartet": "strings", "orchestra": "orchestral", "orchestral": "orchestral",
                "techno": "techno", "edm": "techno", "rave": "techno", "folk": "folk", "celtic": "folk",
                "chiptune": "chiptune", "8-bit": "chiptune", "8bit": "chiptune", "retro": "chiptune"}
# Words that describe an orchestra's sound in game music, but not a style: a genre the text
# names wins over them ("epic techno" is techno).
_SOUND_WORDS = {"epic": "orchestral", "cinematic": "orchestral"}
_SOLO_WORDS = {"solo", "alone", "unaccompanied", "lone"}
# A register word before a named section ("low strings", "deep brass") asks for the section's low
# voices: its held chords carry the mood, and the melody above them steps back.
_LOW_WORDS = {"low", "deep"}
_POLYPHONIC = {"piano", "guitar", "harp"}
# Tag -> (lead instrument, the accompanying role it takes, that role's instrument)
_NAMED = {"piano": ("piano", "arp", "piano"), "guitar": ("guitar", "arp", "guitar"),
          "harp": ("harp", "arp", "harp"), "flute": ("flute", None, None),
          "violin": ("violin", None, None), "cello": ("cello", None, None),
          "strings": ("violin", "pad", "strings"), "choir": ("choir", "pad", "choir"),
          "brass": ("brass", "pad", "horns"), "horns": ("horns", "pad", "horns"),
          "organ": ("organ", "pad", "organ"), "bells": ("bells", "arp", "bells"),
          "marimba": ("marimba", "arp", "marimba"), "synth": ("synth_lead", "pad", "synth_pad")}

STEP_BACK = -3
"""Velocity steps (of 15) taken off the roles the text does not call for, when it names instruments."""
BASS_STEP_BACK = -1
"""The bass steps back less: it keeps the floor (the lowest octaves) under the named instrument."""


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """Who plays what. ``voices`` maps each role to an instrument name; a role
    missing from it is silent. ``velocity`` adds steps (of 15) per role. ``kit``
    picks the drum sounds: "acoustic", "electronic" or "orchestral"."""

    voices: dict
    velocity: dict
    kit: str
    genre: str | None
    named: tuple[str, ...]
    solo: bool
    four_on_the_floor: bool

    def __hash__(self) -> int:
        return id(self)

    def describe(self) -> dict:
        """JSON-able summary for ``explain-mood``."""
        return {"genre": self.genre, "named": list(self.named), "solo": self.solo, "kit": self.kit,
                "roles": {r: {"instrument": self.voices[r], "velocity": self.velocity.get(r, 0)}
                          for r in ROLES if r in self.voices}}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9-]*", text.lower())


@functools.lru_cache(maxsize=256)
def ensemble(text: str, p: MoodParams) -> Ensemble:
    """The ensemble for a mood text and its parameters."""
    ws = words(text)
    extra = [_EXTRA_WORDS[w] for w in ws if w in _EXTRA_WORDS]
    genre = (next((e for e in extra if e in GENRES), None)
             or next((_SOUND_WORDS[w] for w in ws if w in _SOUND_WORDS), None))
    named = [w for w in ws if w in p.tags or w.rstrip("s") in p.tags]
    named = list(dict.fromkeys([n.rstrip("s") if n.rstrip("s") in p.tags else n for n in named]
                               + [e for e in extra if e in _NAMED]))
    if "quartet" in ws:
        named = ["strings"] + [n for n in named if n != "strings"]
    solo = bool(_SOLO_WORDS & set(ws)) or "quartet" in ws
    voices = _defaults(p) if genre is None else _genre(genre, p)
    kit = {"techno": "electronic", "chiptune": "electronic", "orchestral": "orchestral"}.get(genre, "acoustic")
    velocity: dict[str, int] = {}
    leads = [n for n in named if n in _NAMED and n != "drums"]
    if leads:
        first = leads[0]
        lead, role, instrument = _NAMED[first]
        voices["lead"] = lead
        featured = {"lead"}
        if role:
            voices[role] = instrument
            # "low strings": the section's chords, not a tune above them
            featured = {role} if _low(ws, first) else {"lead", role}
        for other in leads[1:]:  # a second named instrument takes its accompanying role
            _, r2, i2 = _NAMED[other]
            if r2 and r2 not in featured:
                voices[r2] = i2
                featured.add(r2)
        if solo:
            keep = set(featured)
            if first in _POLYPHONIC:  # one player: melody, broken chords and bass on the same instrument
                voices.update(bass=instrument, arp=instrument)
                keep |= {"bass", "arp"}
            elif first == "strings":  # a quartet: cello bass, violins and violas on the chords
                voices.update(bass="cello", pad="strings")
                keep |= {"bass", "pad"}
            voices = {r: v for r, v in voices.items() if r in keep}
        else:
            # The named instrument keeps its level and the rest make room, as a mix engineer pulls the
            # band down under a solo rather than pushing the solo over it.
            velocity.update({r: _step_back(r) for r in ROLES if r not in featured})
    if "drums" in named and "drums" in voices:
        if not leads:  # the drums are what the text asks for: the rest make room for them
            velocity.update({r: _step_back(r) for r in ROLES})
        velocity.pop("drums", None)  # named, they keep their level
    if genre == "orchestral" and "drums" not in named:
        # An orchestra's percussion punctuates; the brass and strings carry the music.
        velocity.setdefault("drums", _step_back("drums"))
    if voices.get("pad") == "strings" and p.arousal < 0.4:
        voices["pad"] = "slow_strings"  # held chords at rest: the section's slow, soft bowing
    four = genre == "techno" or (genre == "chiptune" and p.arousal > 0.5)
    return Ensemble(voices, velocity, kit, genre, tuple(named), solo, four)


def _low(ws: list[str], name: str) -> bool:
    """Whether the text puts a register word right before the named instrument ("low strings")."""
    return any(w in _LOW_WORDS and nxt.rstrip("s") == name.rstrip("s") for w, nxt in zip(ws, ws[1:]))


def _step_back(role: str) -> int:
    return BASS_STEP_BACK if role == "bass" else STEP_BACK


def _defaults(p: MoodParams) -> dict[str, str]:
    """Voices chosen from the mood alone."""
    calm = p.arousal < 0.4
    bass = ("synth_bass" if p.arousal > 0.75 and p.valence > -0.3
            else "pizzicato" if p.tension > 0.5 and p.arousal < 0.55 else "contrabass")
    arp = ("marimba" if p.valence > 0.4 and p.arousal > 0.5 else "pizzicato" if p.tension > 0.55
           else "harp" if calm else "piano")
    lead = ("brass" if p.arousal > 0.7 and p.valence > -0.5 else "violin" if p.valence < -0.2
            else "flute" if calm else "violin")
    pad = "slow_strings" if calm else "tremolo_strings" if p.tension > 0.6 else "strings"
    return {"pad": pad, "bass": bass, "arp": arp, "lead": lead, "bells": "bells", "drums": "kit"}


def _genre(genre: str, p: MoodParams) -> dict[str, str]:
    if genre == "techno":
        return {"pad": "synth_pad", "bass": "synth_bass", "arp": "synth_lead", "lead": "synth_lead",
                "drums": "kit"}
    if genre == "chiptune":
        return {"bass": "synth_bass", "arp": "square_lead", "lead": "square_lead", "drums": "kit"}
    if genre == "folk":
        return {"pad": "guitar", "bass": "acoustic_bass", "arp": "guitar",
                "lead": "violin" if p.arousal > 0.5 else "flute", "drums": "kit"}
    return {"pad": "tremolo_strings" if p.tension > 0.6 else "strings", "bass": "contrabass",
            "arp": "pizzicato" if p.tension > 0.4 else "harp", "lead": "horns" if p.arousal > 0.55 else "violin",
            "bells": "bells", "drums": "kit"}


# Drum sounds per kit; None leaves the hit out.
KITS = {
    "acoustic": {},
    "electronic": {"kick": "e_kick", "snare": "e_snare", "hat": "e_hat", "open_hat": "e_open_hat",
                   "taiko": "e_kick", "rim": "e_snare", "tom": "tom"},
    "orchestral": {"kick": "timpani", "taiko": "taiko", "hat": None, "open_hat": None, "shaker": None,
                   "rim": None},
}


def drum(ens: Ensemble, name: str) -> str | None:
    """The kit's sound for a drum hit the composer asks for."""
    return KITS[ens.kit].get(name, name)
