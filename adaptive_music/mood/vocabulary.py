"""The curated words a text mood is made of.

Each mood word sets some of the :class:`~adaptive_music.mood.params.MoodParams`
fields and suggests instrumentation; each instrument word names
instrumentation and nudges a few fields gently. ``text.parse_mood``
averages the words it finds onto the neutral default, so a word only needs
to state the fields it is about.

Column keys: ``v`` valence (-1..1), ``a`` arousal, ``t`` tension,
``bpm`` tempo (60..200), ``d`` density, ``b`` brightness (0..1).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping

from .params import INSTRUMENT_TAGS, MoodParams

_FIELDS = {"v": "valence", "a": "arousal", "t": "tension", "bpm": "tempo", "d": "density", "b": "brightness"}


@dataclasses.dataclass(frozen=True)
class Entry:
    """What one vocabulary word means."""

    values: Mapping[str, float]
    """The MoodParams fields this word sets, by field name."""
    tags: frozenset[str] = frozenset()
    """Instrumentation the word names (instrument words) or suggests (mood words)."""
    instrument: bool = False
    """True for words that name instrumentation explicitly."""
    weight: float = 1.0
    """How strongly the word pulls the fields it sets."""

    def __post_init__(self) -> None:
        clamped = MoodParams(**self.values)  # also rejects unknown field names
        for name, value in self.values.items():
            if getattr(clamped, name) != value:
                raise ValueError(f"{name}={value} is outside its range")
        if not self.tags <= INSTRUMENT_TAGS:
            raise ValueError(f"unknown tags {sorted(self.tags - INSTRUMENT_TAGS)}")


def _mood(tags: str = "", w: float = 1.0, **columns: float) -> Entry:
    values = MappingProxyType({_FIELDS[k]: float(v) for k, v in columns.items()})
    return Entry(values, frozenset(tags.split()), weight=w)


def _instrument(tags: str, **columns: float) -> Entry:
    # Instrument words colour the mood only a little: "soft strings" is
    # mostly soft, and "strings" alone is nearly neutral.
    values = MappingProxyType({_FIELDS[k]: float(v) for k, v in columns.items()})
    return Entry(values, frozenset(tags.split()), instrument=True, weight=0.4)


MOOD_WORDS: Mapping[str, Entry] = MappingProxyType({
    # calm, gentle, rest
    "calm": _mood(v=.3, a=.1, t=.05, bpm=72, d=.25),
    "peaceful": _mood("strings piano", v=.5, a=.1, t=.05, bpm=70, d=.25, b=.6),
    "peace": _mood("strings piano", v=.5, a=.1, t=.05, bpm=70, d=.25, b=.6),
    "serene": _mood("strings bells", v=.5, a=.1, t=.05, bpm=68, d=.2, b=.65),
    "tranquil": _mood("strings piano", v=.45, a=.1, t=.05, bpm=68, d=.2, b=.6),
    "relax": _mood("piano", v=.4, a=.15, t=.1, bpm=76, d=.3),
    "gentle": _mood("strings piano", v=.3, a=.15, t=.1, bpm=76, d=.3, b=.55),
    "soft": _mood(a=.15, bpm=82, d=.25, b=.4),
    "quiet": _mood(a=.1, bpm=76, d=.2, b=.4),
    "soothing": _mood("strings piano", v=.4, a=.1, t=.05, bpm=68, d=.25),
    "meditative": _mood("synth bells", v=.2, a=.05, t=.05, bpm=62, d=.15),
    "ambient": _mood("synth", a=.15, t=.2, bpm=80, d=.2, b=.45),
    "dream": _mood("synth bells", v=.3, a=.15, t=.15, bpm=74, d=.3, b=.65),
    "ethereal": _mood("choir synth", v=.3, a=.15, t=.25, bpm=70, d=.25, b=.75),
    "lullaby": _mood("bells", v=.4, a=.05, t=.05, bpm=64, d=.2, b=.7),
    "sleep": _mood("bells piano", v=.2, a=.05, t=.05, bpm=62, d=.15, b=.4),
    "rest": _mood("piano", v=.35, a=.05, t=.05, bpm=64, d=.2),
    "idle": _mood(a=.2, t=.15, bpm=84, d=.25),
    "lazy": _mood("guitar", v=.2, a=.1, bpm=70, d=.2),
    "chill": _mood("piano synth", v=.3, a=.2, t=.1, bpm=84, d=.35),
    "cozy": _mood("guitar piano", v=.5, a=.15, t=.05, bpm=78, d=.35, b=.5),
    "warm": _mood(v=.45, a=.25, t=.1, b=.4),
    "tender": _mood("piano strings", v=.4, a=.15, t=.1, bpm=70, d=.25),
    "hope": _mood("strings piano", v=.55, a=.4, t=.2, bpm=92, b=.65),
    "hopeful": _mood("strings piano", v=.55, a=.4, t=.2, bpm=92, b=.65),
    "nostalgic": _mood("piano", v=.1, a=.2, t=.2, bpm=78, d=.3, b=.45),
    "wistful": _mood("piano strings", v=-.1, a=.2, t=.25, bpm=76, d=.3, b=.45),
    "still": _mood(a=.05, bpm=66, d=.1),
    "safe": _mood(v=.5, a=.15, t=0, bpm=80, b=.6),
    "relief": _mood(v=.5, a=.2, t=.05, bpm=80, b=.6),
    "heal": _mood("bells choir", v=.5, a=.15, t=.05, bpm=72, d=.3, b=.7),
    "home": _mood("piano guitar", v=.55, a=.2, t=.05, bpm=82, b=.55),
    "sanctuary": _mood("choir strings", v=.5, a=.1, t=.05, bpm=68, b=.6),
    # times of day, seasons, weather
    "dawn": _mood("strings flute", v=.5, a=.25, t=.1, bpm=80, b=.65),
    "sunrise": _mood("strings flute", v=.55, a=.3, t=.1, bpm=84, b=.7),
    "morning": _mood("flute piano", v=.5, a=.35, t=.1, bpm=92, b=.7),
    "day": _mood(v=.3, a=.45, b=.65),
    "noon": _mood(v=.35, a=.5, b=.75),
    "sunset": _mood("strings", v=.2, a=.2, t=.15, bpm=76, b=.45),
    "dusk": _mood("strings", v=0, a=.2, t=.3, bpm=74, b=.35),
    "twilight": _mood("strings bells", v=-.05, a=.2, t=.35, bpm=72, b=.35),
    "evening": _mood("piano", v=.1, a=.2, t=.15, bpm=78, b=.4),
    "night": _mood("synth piano", v=-.1, a=.2, t=.35, bpm=76, d=.3, b=.25),
    "midnight": _mood("synth", v=-.2, a=.2, t=.45, bpm=74, d=.25, b=.2),
    "spring": _mood("flute strings", v=.6, a=.45, t=.05, bpm=100, b=.75),
    "summer": _mood("guitar", v=.6, a=.55, t=.05, bpm=108, b=.8),
    "autumn": _mood("guitar piano", v=.15, a=.25, t=.15, bpm=82, b=.45),
    "winter": _mood("bells strings", v=.05, a=.2, t=.25, bpm=76, b=.6),
    "snow": _mood("bells piano", v=.25, a=.15, t=.1, bpm=74, d=.25, b=.75),
    "ice": _mood("bells synth", v=-.05, a=.25, t=.3, bpm=80, b=.75),
    "rain": _mood("piano", v=-.2, a=.2, t=.25, bpm=76, d=.35, b=.35),
    "storm": _mood("drums strings brass", v=-.4, a=.8, t=.8, bpm=138, d=.8, b=.35),
    "thunder": _mood("drums", v=-.35, a=.8, t=.75, bpm=130, d=.75, b=.3),
    "wind": _mood("flute", v=0, a=.35, t=.3, bpm=84, d=.3, b=.5),
    "fog": _mood("synth", v=-.2, a=.15, t=.5, bpm=72, d=.2, b=.2),
    "mist": _mood("synth bells", v=-.05, a=.15, t=.35, bpm=72, d=.2, b=.4),
    "sunny": _mood("guitar flute", v=.7, a=.5, t=.05, bpm=108, b=.85),
    "cold": _mood("synth bells", v=-.3, a=.25, t=.45, b=.55),
    # places
    "forest": _mood("strings flute", v=.3, a=.3, t=.15, bpm=84, d=.4, b=.5),
    "woods": _mood("strings flute", v=.15, a=.3, t=.25, bpm=84, d=.4, b=.45),
    "meadow": _mood("flute guitar", v=.55, a=.3, t=.05, bpm=88, d=.35, b=.7),
    "field": _mood("guitar flute", v=.45, a=.35, t=.1, bpm=92, b=.65),
    "garden": _mood("flute bells", v=.5, a=.25, t=.05, bpm=84, b=.7),
    "river": _mood("piano flute", v=.35, a=.3, t=.1, bpm=84, b=.6),
    "lake": _mood("piano strings", v=.35, a=.15, t=.1, bpm=74, b=.55),
    "ocean": _mood("strings synth", v=.2, a=.3, t=.2, bpm=78, d=.35, b=.5),
    "sea": _mood("strings brass", v=.2, a=.35, t=.25, bpm=84, d=.4, b=.5),
    "beach": _mood("guitar", v=.6, a=.4, t=.05, bpm=100, b=.75),
    "island": _mood("guitar flute", v=.55, a=.4, t=.1, bpm=100, b=.75),
    "mountain": _mood("brass strings choir", v=.3, a=.45, t=.25, bpm=90, b=.55),
    "valley": _mood("flute strings", v=.4, a=.25, t=.1, bpm=82, b=.6),
    "hill": _mood("flute guitar", v=.45, a=.3, bpm=90, b=.65),
    "desert": _mood("flute drums", v=0, a=.35, t=.35, bpm=92, d=.35, b=.6),
    "jungle": _mood("drums flute", v=.1, a=.55, t=.45, bpm=110, d=.6, b=.5),
    "swamp": _mood("synth", v=-.3, a=.3, t=.5, bpm=80, d=.35, b=.25),
    "cave": _mood("synth bells", v=-.2, a=.2, t=.5, bpm=72, d=.2, b=.2),
    "cavern": _mood("synth bells", v=-.2, a=.2, t=.5, bpm=72, d=.2, b=.2),
    "underground": _mood("synth", v=-.2, a=.3, t=.5, bpm=80, d=.3, b=.2),
    "dungeon": _mood("strings drums", v=-.45, a=.4, t=.7, bpm=90, d=.4, b=.2),
    "crypt": _mood("organ choir", v=-.55, a=.25, t=.75, bpm=70, d=.25, b=.15),
    "tomb": _mood("choir organ", v=-.5, a=.2, t=.7, bpm=68, d=.2, b=.15),
    "graveyard": _mood("organ bells choir", v=-.5, a=.2, t=.7, bpm=70, d=.2, b=.15),
    "cemetery": _mood("organ bells choir", v=-.5, a=.2, t=.7, bpm=70, d=.2, b=.15),
    "haunted": _mood("organ choir", v=-.6, a=.35, t=.85, bpm=78, d=.3, b=.15),
    "castle": _mood("brass strings", v=.1, a=.45, t=.35, bpm=96, d=.5, b=.5),
    "kingdom": _mood("brass strings", v=.4, a=.5, t=.2, bpm=100, b=.6),
    "throne": _mood("brass organ", v=.1, a=.45, t=.45, bpm=84, d=.5, b=.45),
    "temple": _mood("choir bells", v=.1, a=.25, t=.35, bpm=76, d=.3, b=.45),
    "ruin": _mood("strings choir", v=-.2, a=.3, t=.45, bpm=80, d=.3, b=.35),
    "city": _mood("synth drums", v=.2, a=.55, t=.3, bpm=112, d=.6, b=.6),
    "town": _mood("guitar flute", v=.45, a=.4, t=.1, bpm=100, d=.45, b=.65),
    "village": _mood("flute guitar", v=.55, a=.35, t=.05, bpm=96, d=.4, b=.65),
    "tavern": _mood("guitar flute drums", v=.6, a=.6, t=.1, bpm=118, d=.6, b=.6),
    "inn": _mood("guitar", v=.5, a=.4, t=.05, bpm=104, b=.55),
    "market": _mood("guitar flute drums", v=.5, a=.55, t=.15, bpm=112, d=.6, b=.7),
    "cafe": _mood("piano guitar", v=.45, a=.3, t=.1, bpm=92, d=.4, b=.5),
    "shop": _mood("piano bells", v=.55, a=.4, t=.05, bpm=104, d=.4, b=.7),
    "harbor": _mood("guitar strings", v=.35, a=.4, t=.15, bpm=96, b=.55),
    "harbour": _mood("guitar strings", v=.35, a=.4, t=.15, bpm=96, b=.55),
    "sky": _mood("strings bells", v=.5, a=.4, t=.1, bpm=96, d=.35, b=.85),
    "cloud": _mood("synth bells", v=.45, a=.25, t=.1, bpm=84, d=.3, b=.8),
    "heaven": _mood("choir bells", v=.7, a=.3, t=.05, bpm=76, b=.9),
    "space": _mood("synth", v=0, a=.25, t=.35, bpm=80, d=.25, b=.55),
    "star": _mood("synth bells", v=.3, a=.2, t=.2, bpm=76, d=.25, b=.8),
    "cosmic": _mood("synth choir", v=.1, a=.3, t=.35, bpm=84, d=.3, b=.6),
    "planet": _mood("synth", v=0, a=.3, t=.35, bpm=88, b=.5),
    "underwater": _mood("synth", v=.1, a=.2, t=.3, bpm=72, d=.3, b=.25),
    "arctic": _mood("bells strings", v=-.1, a=.25, t=.35, bpm=80, b=.7),
    "fire": _mood("drums brass", v=-.1, a=.7, t=.6, bpm=128, d=.7, b=.6),
    "lava": _mood("drums organ", v=-.4, a=.7, t=.75, bpm=120, d=.7, b=.4),
    "volcano": _mood("drums brass", v=-.4, a=.7, t=.75, bpm=120, d=.7, b=.35),
    "factory": _mood("synth drums", v=-.2, a=.6, t=.5, bpm=120, d=.65, b=.45),
    "lab": _mood("synth", v=0, a=.35, t=.4, bpm=100, d=.4, b=.6),
    "laboratory": _mood("synth", v=0, a=.35, t=.4, bpm=100, d=.4, b=.6),
    "station": _mood("synth", v=0, a=.4, t=.35, bpm=100, b=.55),
    "spaceship": _mood("synth", v=.1, a=.45, t=.4, bpm=108, b=.6),
    "airship": _mood("brass strings", v=.45, a=.55, t=.2, bpm=112, b=.65),
    # genres and settings
    "fantasy": _mood("strings flute choir", v=.3, a=.45, t=.3, bpm=96),
    "medieval": _mood("flute guitar drums", v=.3, a=.45, t=.2, bpm=100),
    "celtic": _mood("flute guitar", v=.45, a=.55, t=.15, bpm=112),
    "sci-fi": _mood("synth", v=0, a=.5, t=.45, bpm=112, d=.5, b=.65),
    "scifi": _mood("synth", v=0, a=.5, t=.45, bpm=112, d=.5, b=.65),
    "cyber": _mood("synth drums", v=-.1, a=.7, t=.55, bpm=128, d=.7, b=.7),
    "cyberpunk": _mood("synth drums", v=-.25, a=.75, t=.6, bpm=128, d=.75, b=.6),
    "futuristic": _mood("synth", v=.1, a=.55, t=.4, bpm=120, d=.55, b=.75),
    "retro": _mood("synth", v=.45, a=.6, t=.2, bpm=120, b=.8),
    "chiptune": _mood("synth", v=.5, a=.7, t=.2, bpm=140, d=.65, b=.9),
    "arcade": _mood("synth drums", v=.5, a=.75, t=.3, bpm=140, d=.7, b=.85),
    "western": _mood("guitar", v=.1, a=.45, t=.35, bpm=100, b=.55),
    "noir": _mood("piano", v=-.35, a=.3, t=.55, bpm=84, d=.35, b=.25),
    "jazz": _mood("piano", v=.3, a=.45, t=.3, bpm=112, d=.5),
    "electronic": _mood("synth drums", a=.6, t=.35, bpm=124, d=.6, b=.7),
    "industrial": _mood("synth drums", v=-.4, a=.7, t=.65, bpm=124, d=.75, b=.35),
    "orchestral": _mood("strings brass", a=.55, t=.4, d=.65),
    "cinematic": _mood("strings brass choir", a=.6, t=.5, bpm=100, d=.6),
    "tribal": _mood("drums flute", v=0, a=.7, t=.5, bpm=118, d=.65, b=.4),
    "folk": _mood("guitar flute", v=.45, a=.4, t=.1, bpm=100),
    "pirate": _mood("brass strings drums", v=.35, a=.65, t=.35, bpm=126),
    "gothic": _mood("organ choir", v=-.5, a=.35, t=.65, bpm=76, d=.4, b=.2),
    "ancient": _mood("choir flute", v=-.05, a=.3, t=.4, bpm=80, b=.4),
    "primal": _mood("drums", v=-.2, a=.75, t=.55, bpm=120),
    "sacred": _mood("choir organ", v=.45, a=.2, t=.15, bpm=68, b=.7),
    "holy": _mood("choir organ", v=.45, a=.2, t=.15, bpm=68, b=.7),
    "royal": _mood("brass strings", v=.5, a=.55, t=.25, bpm=100),
    "noble": _mood("brass strings", v=.5, a=.5, t=.25, bpm=96),
    # action and danger
    "battle": _mood("drums brass strings", v=-.2, a=.85, t=.75, bpm=150, d=.8, b=.6),
    "fight": _mood("drums brass", v=-.2, a=.85, t=.75, bpm=152, d=.8, b=.6),
    "combat": _mood("drums brass strings", v=-.2, a=.85, t=.75, bpm=148, d=.8, b=.55),
    "war": _mood("drums brass choir", v=-.45, a=.8, t=.8, bpm=132, d=.85, b=.4),
    "boss": _mood("drums brass choir", w=1.2, v=-.35, a=.9, t=.85, bpm=152, d=.85, b=.55),
    "attack": _mood("drums", v=-.3, a=.9, t=.8, bpm=156, d=.8, b=.55),
    "ambush": _mood("drums strings", v=-.4, a=.85, t=.9, bpm=150, d=.7, b=.4),
    "chase": _mood("drums strings synth", v=-.15, a=.95, t=.75, bpm=168, d=.8, b=.6),
    "pursuit": _mood("drums strings", v=-.15, a=.9, t=.75, bpm=164, d=.8, b=.6),
    "escape": _mood("drums strings", v=-.05, a=.9, t=.75, bpm=160, d=.75, b=.6),
    "hunt": _mood("drums", v=-.3, a=.7, t=.75, bpm=128, d=.6, b=.35),
    "raid": _mood("drums brass", v=-.3, a=.85, t=.75, bpm=148, d=.8),
    "siege": _mood("drums brass choir", v=-.4, a=.75, t=.8, bpm=120, d=.8, b=.35),
    "duel": _mood("strings drums", v=-.15, a=.8, t=.85, bpm=140, d=.6),
    "charge": _mood("brass drums", v=.1, a=.9, t=.6, bpm=160, d=.85, b=.65),
    "danger": _mood(v=-.4, a=.7, t=.85, bpm=128, d=.55, b=.35),
    "threat": _mood(v=-.45, a=.6, t=.8, bpm=112, d=.5, b=.3),
    "enemy": _mood("drums", v=-.35, a=.7, t=.75, bpm=136, d=.6),
    "monster": _mood("drums brass", v=-.5, a=.75, t=.8, bpm=132, d=.65, b=.3),
    "goblins": _mood("drums", v=-.3, a=.8, t=.7, bpm=144, d=.7, b=.45),
    "orcs": _mood("drums brass", v=-.4, a=.8, t=.7, bpm=138, d=.75, b=.35),
    "dragon": _mood("brass choir drums", v=-.3, a=.85, t=.8, bpm=140, d=.8, b=.5),
    "undead": _mood("choir organ", v=-.6, a=.5, t=.8, bpm=100, d=.5, b=.15),
    "zombie": _mood("synth drums", v=-.6, a=.6, t=.8, bpm=116, d=.55, b=.2),
    "ghost": _mood("choir bells", v=-.45, a=.2, t=.7, bpm=70, d=.2, b=.35),
    "demon": _mood("choir organ drums", v=-.7, a=.75, t=.9, bpm=130, d=.75, b=.2),
    "invasion": _mood("drums brass synth", v=-.5, a=.85, t=.85, bpm=144, d=.8, b=.4),
    "alarm": _mood("synth drums", v=-.4, a=.9, t=.9, bpm=150, d=.7, b=.6),
    "countdown": _mood("synth drums", v=-.2, a=.8, t=.9, bpm=140, d=.6),
    "urgent": _mood(v=-.2, a=.85, t=.8, bpm=150, d=.7),
    "frantic": _mood(v=-.3, a=.95, t=.85, bpm=170, d=.85, b=.6),
    "chaos": _mood("drums", v=-.5, a=.95, t=.9, bpm=165, d=.95, b=.5),
    "chaotic": _mood("drums", v=-.5, a=.95, t=.9, bpm=165, d=.95, b=.5),
    "rage": _mood("drums brass", v=-.6, a=.95, t=.85, bpm=160, d=.9, b=.4),
    "aggressive": _mood("drums", v=-.4, a=.9, t=.75, bpm=150, d=.85, b=.5),
    "intense": _mood(a=.9, t=.75, bpm=148, d=.75, b=.6),
    "dramatic": _mood("strings brass", v=-.1, a=.7, t=.7, bpm=112, d=.75),
    "mission": _mood(v=0, a=.55, t=.5, bpm=112),
    # heroic and triumphant
    "epic": _mood("brass choir drums", v=.2, a=.85, t=.6, bpm=130, d=.85, b=.6),
    "heroic": _mood("brass strings drums", v=.6, a=.75, t=.35, bpm=126, d=.75, b=.75),
    "hero": _mood("brass strings drums", v=.6, a=.7, t=.35, bpm=120, d=.7, b=.75),
    "triumphant": _mood("brass strings drums", v=.8, a=.75, t=.15, bpm=120, d=.75, b=.85),
    "triumph": _mood("brass strings drums", v=.8, a=.75, t=.15, bpm=120, d=.75, b=.85),
    "victory": _mood("brass drums", v=.85, a=.7, t=.1, bpm=120, d=.7, b=.85),
    "glory": _mood("brass choir", v=.75, a=.7, t=.2, bpm=116, d=.75, b=.8),
    "glorious": _mood("brass choir", v=.75, a=.7, t=.2, bpm=116, d=.75, b=.8),
    "majestic": _mood("brass strings choir", v=.5, a=.6, t=.3, bpm=96, d=.75, b=.7),
    "grand": _mood("brass strings organ", v=.45, a=.6, t=.3, bpm=100, d=.75, b=.65),
    "march": _mood("drums brass", v=.2, a=.65, t=.4, bpm=112, d=.6),
    # journeys and thinking
    "adventure": _mood("strings brass", v=.45, a=.65, t=.35, bpm=120, d=.6, b=.7),
    "adventurous": _mood("strings brass", v=.45, a=.65, t=.35, bpm=120, d=.6, b=.7),
    "exploration": _mood("strings flute", v=.3, a=.4, t=.2, bpm=100, d=.45, b=.6),
    "explore": _mood("strings flute", v=.3, a=.4, t=.2, bpm=100, d=.45, b=.6),
    "journey": _mood("strings", v=.35, a=.45, t=.2, bpm=100, b=.6),
    "travel": _mood("guitar strings", v=.4, a=.45, t=.15, bpm=104, b=.6),
    "quest": _mood("strings brass", v=.35, a=.55, t=.35, bpm=112),
    "discovery": _mood("strings bells", v=.55, a=.45, t=.2, bpm=96, b=.75),
    "wander": _mood("flute guitar", v=.25, a=.25, t=.15, bpm=84, d=.3),
    "puzzle": _mood("piano bells", v=.2, a=.3, t=.35, bpm=96, d=.35, b=.6),
    "think": _mood("piano", v=.1, a=.25, t=.35, bpm=90, d=.3),
    "lost": _mood(v=-.35, a=.25, t=.5, bpm=72, d=.25, b=.3),
    # menus and game states
    "menu": _mood("synth piano", v=.35, a=.3, t=.1, bpm=96, d=.35, b=.6),
    "title": _mood("strings brass", v=.4, a=.55, t=.3, bpm=104, d=.6),
    "intro": _mood(v=.3, a=.45, t=.3, bpm=100, d=.45),
    "tutorial": _mood("piano", v=.45, a=.35, t=.1, bpm=100, d=.35, b=.7),
    "credit": _mood("strings piano", v=.55, a=.4, t=.1, bpm=92, d=.5, b=.7),
    "cutscene": _mood("strings", a=.5, t=.5, bpm=96, d=.55),
    "training": _mood("drums", v=.3, a=.6, t=.35, bpm=118),
    "craft": _mood("guitar piano", v=.45, a=.3, t=.1, bpm=96),
    # tension, stealth, mystery
    "tense": _mood(v=-.3, a=.6, t=.9, d=.45, b=.35),
    "tension": _mood(v=-.3, a=.6, t=.9, d=.45, b=.35),
    "suspense": _mood("strings", v=-.3, a=.45, t=.9, bpm=96, d=.35, b=.3),
    "suspenseful": _mood("strings", v=-.3, a=.45, t=.9, bpm=96, d=.35, b=.3),
    "stealth": _mood("strings synth", v=-.3, a=.35, t=.85, bpm=92, d=.25, b=.3),
    "sneak": _mood("strings", v=-.15, a=.35, t=.75, bpm=96, d=.25, b=.35),
    "hidden": _mood(v=-.2, a=.25, t=.65, d=.25, b=.3),
    "lurk": _mood(v=-.45, a=.35, t=.85, bpm=84, d=.25, b=.2),
    "creep": _mood(v=-.45, a=.3, t=.8, bpm=80, d=.25, b=.2),
    "creepy": _mood("bells strings", v=-.6, a=.3, t=.85, bpm=76, d=.25, b=.2),
    "anxious": _mood(v=-.4, a=.6, t=.85, bpm=116, d=.45, b=.35),
    "nervous": _mood(v=-.3, a=.55, t=.75, bpm=112),
    "uneasy": _mood(v=-.3, a=.35, t=.7, bpm=88, d=.3, b=.3),
    "ominous": _mood("strings choir", v=-.55, a=.4, t=.85, bpm=80, d=.35, b=.2),
    "foreboding": _mood("strings", v=-.5, a=.3, t=.8, bpm=76, d=.3, b=.2),
    "sinister": _mood("strings organ", v=-.65, a=.4, t=.85, bpm=84, d=.35, b=.2),
    "brooding": _mood("strings", v=-.45, a=.25, t=.6, bpm=72, d=.35, b=.2),
    "mysterious": _mood("bells synth", v=-.1, a=.3, t=.55, bpm=84, d=.3, b=.4),
    "mystery": _mood("bells synth", v=-.1, a=.3, t=.55, bpm=84, d=.3, b=.4),
    "enigmatic": _mood("bells synth", v=-.1, a=.3, t=.55, bpm=84, d=.3, b=.4),
    "mystic": _mood("choir bells", v=.2, a=.3, t=.4, bpm=80, b=.6),
    "mystical": _mood("choir bells", v=.2, a=.3, t=.4, bpm=80, b=.6),
    "magic": _mood("bells choir", v=.5, a=.4, t=.25, bpm=92, d=.45, b=.85),
    "magical": _mood("bells choir", v=.5, a=.4, t=.25, bpm=92, d=.45, b=.85),
    "enchant": _mood("bells flute", v=.45, a=.3, t=.25, bpm=86, d=.4, b=.8),
    "strange": _mood("synth", v=-.15, a=.35, t=.55, bpm=88, d=.3, b=.45),
    "weird": _mood("synth", v=-.1, a=.45, t=.55, bpm=96, b=.5),
    # horror
    "eerie": _mood("synth bells", v=-.5, a=.25, t=.8, bpm=72, d=.2, b=.3),
    "spooky": _mood("organ bells", v=-.4, a=.4, t=.7, bpm=96, d=.35, b=.35),
    "haunting": _mood("choir strings", v=-.35, a=.2, t=.6, bpm=70, d=.25, b=.35),
    "horror": _mood("strings synth", v=-.75, a=.45, t=.95, bpm=80, d=.3, b=.15),
    "terror": _mood("strings drums", v=-.8, a=.8, t=.95, bpm=120, d=.55, b=.2),
    "scary": _mood("strings synth", v=-.65, a=.5, t=.85, bpm=90, d=.35, b=.2),
    "dread": _mood("strings synth", v=-.7, a=.3, t=.9, bpm=70, d=.25, b=.15),
    "nightmare": _mood("synth strings", v=-.8, a=.6, t=.95, bpm=100, d=.5, b=.15),
    "dark": _mood(v=-.4, t=.5, b=.15),
    "gloom": _mood("strings", v=-.5, a=.2, t=.4, bpm=72, d=.3, b=.2),
    "grim": _mood(v=-.6, a=.35, t=.6, bpm=80, b=.2),
    "bleak": _mood(v=-.55, a=.15, t=.45, bpm=68, d=.2, b=.25),
    "hollow": _mood(v=-.3, t=.45, d=.15, b=.3),
    # sadness
    "sad": _mood("piano strings", v=-.6, a=.15, t=.3, bpm=68, d=.25, b=.3),
    "melancholic": _mood("piano strings", v=-.5, a=.15, t=.3, bpm=70, d=.3, b=.3),
    "melancholy": _mood("piano strings", v=-.5, a=.15, t=.3, bpm=70, d=.3, b=.3),
    "sorrow": _mood("strings", v=-.65, a=.15, t=.35, bpm=64, d=.25, b=.25),
    "grief": _mood("strings choir", v=-.75, a=.15, t=.4, bpm=62, d=.2, b=.2),
    "mourn": _mood("strings choir", v=-.7, a=.1, t=.35, bpm=62, d=.2, b=.2),
    "lament": _mood("strings choir", v=-.6, a=.15, t=.35, bpm=64, d=.25, b=.25),
    "funeral": _mood("organ choir", v=-.75, a=.1, t=.4, bpm=60, d=.25, b=.15),
    "lonely": _mood("piano", v=-.45, a=.1, t=.3, bpm=66, d=.15, b=.35),
    "loss": _mood("strings piano", v=-.6, a=.15, t=.35, bpm=64, d=.25, b=.25),
    "tragic": _mood("strings choir", v=-.7, a=.35, t=.6, bpm=70, d=.4, b=.25),
    "tragedy": _mood("strings choir", v=-.7, a=.35, t=.6, bpm=70, d=.4, b=.25),
    "regret": _mood("piano", v=-.5, a=.15, t=.4, bpm=66, b=.3),
    "somber": _mood("strings organ", v=-.5, a=.15, t=.35, bpm=66, d=.3, b=.2),
    "sombre": _mood("strings organ", v=-.5, a=.15, t=.35, bpm=66, d=.3, b=.2),
    "solemn": _mood("organ choir strings", v=-.3, a=.2, t=.35, bpm=66, d=.35, b=.3),
    "defeat": _mood("strings brass", v=-.7, a=.2, t=.4, bpm=64, d=.3, b=.25),
    "despair": _mood("strings", v=-.85, a=.3, t=.6, bpm=64, d=.3, b=.15),
    "emotional": _mood("strings piano", v=-.1, a=.45, t=.4, bpm=80),
    "serious": _mood(v=-.2, a=.45, t=.55, b=.35),
    # happiness and play
    "happy": _mood("piano guitar", v=.8, a=.6, t=.05, bpm=116, d=.55, b=.8),
    "joy": _mood("piano bells", v=.85, a=.65, t=.05, bpm=120, d=.6, b=.85),
    "joyful": _mood("piano bells", v=.85, a=.65, t=.05, bpm=120, d=.6, b=.85),
    "cheerful": _mood("flute guitar", v=.8, a=.6, t=.05, bpm=118, d=.55, b=.8),
    "playful": _mood("bells piano flute", v=.7, a=.6, t=.15, bpm=118, d=.5, b=.8),
    "whimsical": _mood("bells flute", v=.55, a=.5, t=.25, bpm=108, d=.45, b=.8),
    "silly": _mood("bells", v=.7, a=.65, t=.15, bpm=124, d=.5, b=.85),
    "funny": _mood("bells", v=.7, a=.6, t=.15, bpm=120, b=.8),
    "comedy": _mood("bells", v=.7, a=.6, t=.15, bpm=120, b=.8),
    "bouncy": _mood("bells", v=.7, a=.7, t=.1, bpm=124, d=.6, b=.8),
    "festive": _mood("bells drums brass", v=.8, a=.75, t=.05, bpm=126, d=.7, b=.85),
    "celebration": _mood("brass drums bells", v=.85, a=.8, t=.05, bpm=128, d=.75, b=.85),
    "celebrate": _mood("brass drums bells", v=.85, a=.8, t=.05, bpm=128, d=.75, b=.85),
    "party": _mood("synth drums", v=.8, a=.85, t=.1, bpm=128, d=.8, b=.8),
    "dance": _mood("drums synth", v=.7, a=.8, t=.1, bpm=124, d=.75, b=.75),
    "carnival": _mood("brass drums bells", v=.75, a=.75, t=.15, bpm=130),
    "uplift": _mood("strings piano", v=.75, a=.6, t=.1, bpm=112, d=.6, b=.8),
    "inspire": _mood("strings piano", v=.7, a=.6, t=.15, bpm=108, d=.6, b=.8),
    "wonder": _mood("strings bells choir", v=.6, a=.4, t=.15, bpm=88, b=.8),
    "fairy": _mood("bells flute", v=.6, a=.4, t=.1, bpm=100, b=.9),
    "romance": _mood("strings piano", v=.6, a=.3, t=.15, bpm=80, d=.4, b=.55),
    "romantic": _mood("strings piano", v=.6, a=.3, t=.15, bpm=80, d=.4, b=.55),
    "love": _mood("strings piano", v=.65, a=.3, t=.1, bpm=78, d=.4, b=.6),
    "sweet": _mood("piano bells", v=.65, a=.3, t=.05, bpm=88, b=.75),
    "cute": _mood("bells", v=.75, a=.5, t=.05, bpm=112, b=.85),
    # tempo, energy, texture, register
    "fast": _mood(w=1.3, a=.75, bpm=165),
    "fast-paced": _mood(w=1.3, a=.8, bpm=165, d=.7),
    "quick": _mood(a=.7, bpm=150),
    "rapid": _mood(a=.8, bpm=170),
    "upbeat": _mood(v=.5, a=.7, bpm=128, b=.7),
    "slow": _mood(w=1.3, a=.15, bpm=64, d=.3),
    "moderate": _mood(a=.4, bpm=100),
    "steady": _mood(a=.4, t=.25),
    "driving": _mood("drums", a=.8, t=.5, bpm=136, d=.75),
    "pulse": _mood("synth", a=.65, t=.5, bpm=124, d=.6),
    "energetic": _mood("drums", v=.3, a=.85, bpm=140, d=.8, b=.7),
    "energy": _mood("drums", v=.3, a=.85, bpm=140, d=.8, b=.7),
    "power": _mood("brass drums", a=.85, t=.5, d=.85, b=.6),
    "loud": _mood(a=.85, d=.8, b=.65),
    "heavy": _mood("drums", v=-.3, a=.75, t=.6, d=.85, b=.25),
    "light": _mood(v=.4, a=.35, t=.1, d=.3, b=.75),
    "airy": _mood(v=.35, a=.2, t=.1, d=.2, b=.8),
    "sparse": _mood(w=1.5, d=.1),
    "minimal": _mood(w=1.5, d=.1),
    "busy": _mood(w=1.5, d=.85),
    "dense": _mood(w=1.5, d=.9),
    "full": _mood(d=.75),
    "rich": _mood(d=.7, b=.55),
    "thin": _mood(d=.15, b=.6),
    "big": _mood(a=.65, d=.8),
    "small": _mood(a=.3, d=.25),
    "low": _mood(w=1.2, v=-.15, b=.2),
    "deep": _mood(v=-.1, t=.35, b=.2),
    "high": _mood(b=.75),
    "sharp": _mood(t=.55, b=.85),
    "bright": _mood(v=.4, b=.85),
    "muffled": _mood(d=.3, b=.1),
    "distant": _mood(a=.15, d=.2, b=.3),
})
"""Mood words: scenes, feelings, genres, tempo and texture."""

INSTRUMENT_WORDS: Mapping[str, Entry] = MappingProxyType({
    "strings": _instrument("strings"),
    "string": _instrument("strings"),
    "orchestra": _instrument("strings brass", d=.65),
    "violin": _instrument("strings", b=.6),
    "viola": _instrument("strings", b=.45),
    "cello": _instrument("strings", v=-.1, b=.3),
    "contrabass": _instrument("strings", b=.2),
    "harp": _instrument("guitar bells", b=.65),
    "piano": _instrument("piano"),
    "keys": _instrument("piano"),
    "synth": _instrument("synth"),
    "synthesizer": _instrument("synth"),
    "pad": _instrument("synth", d=.35),
    "arpeggio": _instrument("synth", d=.6),
    "choir": _instrument("choir", b=.55),
    "voice": _instrument("choir"),
    "vocal": _instrument("choir"),
    "chant": _instrument("choir", t=.45, b=.35),
    "brass": _instrument("brass", a=.65, b=.6),
    "horn": _instrument("brass", a=.55),
    "trumpet": _instrument("brass", a=.65, b=.7),
    "trombone": _instrument("brass", b=.45),
    "tuba": _instrument("brass", b=.25),
    "fanfare": _instrument("brass drums", v=.6, a=.75, b=.75),
    "bells": _instrument("bells", b=.8),
    "bell": _instrument("bells", b=.8),
    "chimes": _instrument("bells", b=.85),
    "celesta": _instrument("bells", v=.3, b=.85),
    "glockenspiel": _instrument("bells", v=.3, b=.9),
    "xylophone": _instrument("bells", v=.4, b=.8),
    "marimba": _instrument("bells", v=.3, b=.6),
    "guitar": _instrument("guitar"),
    "lute": _instrument("guitar", v=.2),
    "mandolin": _instrument("guitar", v=.3, b=.7),
    "banjo": _instrument("guitar", v=.4, b=.7),
    "flute": _instrument("flute", b=.7),
    "woodwinds": _instrument("flute"),
    "clarinet": _instrument("flute", b=.5),
    "oboe": _instrument("flute", b=.6),
    "pipes": _instrument("flute"),
    "whistle": _instrument("flute", b=.8),
    "organ": _instrument("organ", t=.45, b=.35),
    "drums": _instrument("drums", a=.6, d=.55),
    "drum": _instrument("drums", a=.6, d=.55),
    "percussion": _instrument("drums", a=.55, d=.5),
    "taiko": _instrument("drums", a=.75, t=.6),
    "timpani": _instrument("drums", t=.55),
    "snare": _instrument("drums", a=.65),
    "beat": _instrument("drums", a=.6),
})
"""Instrument words, mapped to the nearest voices the backend has."""

PHRASES: Mapping[str, Entry] = MappingProxyType({
    "boss fight": MOOD_WORDS["boss"],
    "final boss": _mood("drums brass choir", w=1.5, v=-.45, a=.95, t=.9, bpm=156, d=.9, b=.55),
    "game over": _mood("piano", v=-.6, a=.15, t=.3, bpm=64, d=.2, b=.3),
    "main menu": MOOD_WORDS["menu"],
    "level up": _mood("bells brass", v=.85, a=.7, t=.05, bpm=120, b=.9),
    "sci fi": MOOD_WORDS["sci-fi"],
    "deep space": _mood("synth", v=-.1, a=.2, t=.4, bpm=72, d=.2, b=.35),
    "music box": _instrument("bells", v=.2, b=.85),
    "war drums": _instrument("drums", a=.8, t=.65),
    "french horn": INSTRUMENT_WORDS["horn"],
    "string quartet": _instrument("strings", d=.4),
})
"""Two-word phrases whose meaning is not the average of their words."""

NEUTRAL_WORDS = frozenset(
    "music soundtrack theme song track tune score background bgm game level area zone "
    "scene stage mood vibe vibes atmosphere sound sounds loop style bpm".split()
)
"""Words that are recognised but carry no mood: they leave the default."""

INTENSIFIERS: Mapping[str, float] = MappingProxyType({
    "very": 1.5, "really": 1.4, "extremely": 1.8, "super": 1.6, "highly": 1.5,
    "incredibly": 1.8, "ultra": 1.8, "totally": 1.5, "truly": 1.4, "so": 1.3,
    "more": 1.3, "much": 1.3, "slightly": 0.5, "somewhat": 0.6, "bit": 0.5,
    "little": 0.5, "mildly": 0.5, "kinda": 0.6, "fairly": 0.8, "less": 0.5,
    "barely": 0.3, "faintly": 0.4,
})
"""Degree words: they scale how far the next word moves from neutral."""

NEGATORS = frozenset({"not", "no", "without", "never", "non", "dont", "don't", "isn't", "nor"})
"""Words that negate the next word: a mood flips to half its opposite,
an instrument is left out."""

STOPWORDS = frozenset(
    "a an the at in on of to for with and or but then into onto from by as is are be being "
    "it its this that some while during after before near under over through across around "
    "my our your their his her we they you i me us there here where when like kind sort type "
    "lot lots gets getting becomes become becoming turns turning starts starting begins "
    "feel feeling feels mostly just all out up down".split()
)
"""Grammar words: ignored, and never reported as unknown."""


def entry(name: str) -> Entry | None:
    """The entry of a vocabulary word or phrase, or None."""
    return PHRASES.get(name) or MOOD_WORDS.get(name) or INSTRUMENT_WORDS.get(name)
