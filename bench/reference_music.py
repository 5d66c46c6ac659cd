"""Produced music to measure renders against, grouped by mood class (bench/sound.py).

Two sets, both measured where they are installed and never copied into the project:

- ``immich``: the 28 tracks of the PyPI package ``immich-memories-music`` (MIT), about
  30 s each, in the producer's own mood folders (calm, energetic, happy, nostalgic,
  tender). Produced music, but for photo memories, not games.
- ``wesnoth``: the orchestral soundtrack of The Battle for Wesnoth 1.16 (GPL-2+, Debian
  ``wesnoth-1.16-music``, 150 MB, no dependencies): game music, 1-6 min a track. Its
  classes come from :data:`WESNOTH_CLASSES`, by each track's title.

    pip install immich-memories-music
    apt-get install wesnoth-1.16-music
"""

from __future__ import annotations

import glob
import os

WESNOTH_MUSIC = "/usr/share/games/wesnoth/1.16/data/core/music"

WESNOTH_CLASSES = {
    # Titles that name a fight.
    "energetic": ("battle", "battle-epic", "frantic", "casualties_of_war", "siege_of_laurelmor",
                  "the_dangerous_symphony", "vengeful", "weight_of_revenge"),
    # Titles of loss, farewell and return.
    "nostalgic": ("sad", "transience", "the_king_is_dead", "nunc_dimittis", "journeys_end",
                  "return_to_wesnoth"),
    # Places of rest, and the wanderer's theme.
    "calm": ("silvan_sanctuary", "knolls", "elf-land", "wanderer"),
    "tender": ("love_theme",),
    "happy": ("traveling_minstrels",),
    # Darkness and danger: the stealth and dungeon music a game needs most, which the
    # immich set has no class for.
    "tense": ("into_the_shadows", "suspense", "underground", "the_deep_path"),
}
"""Mood class of each Wesnoth track used, by its title. Left out: the stingers (victory,
defeat, main menu, silence), an older version of a track (frantic-old), and the themes
whose titles name a people or a story rather than a mood (elvish-theme, knalgan_theme,
loyalists, northerners, heroes_rite, legends_of_the_north, breaking_the_chains,
northern_mountains, the_city_falls, revelation)."""


def tracks(sets: tuple[str, ...] = ("immich", "wesnoth")) -> tuple[dict[str, list[str]], list[str]]:
    """Paths of the reference tracks by mood class, and a line for each set that is not
    installed (saying how to get it)."""
    unknown = set(sets) - {"immich", "wesnoth"}
    if unknown:
        raise ValueError(f"unknown reference sets {sorted(unknown)}: the sets are immich and wesnoth")
    by_class: dict[str, list[str]] = {}
    missing = []
    if "immich" in sets:
        try:
            import immich_memories_music
        except ImportError:
            missing.append("immich: not installed (pip install immich-memories-music)")
        else:
            root = os.path.join(os.path.dirname(immich_memories_music.__file__), "tracks")
            for path in sorted(glob.glob(os.path.join(root, "*", "*.opus"))):
                by_class.setdefault(os.path.basename(os.path.dirname(path)), []).append(path)
    if "wesnoth" in sets:
        if not os.path.isdir(WESNOTH_MUSIC):
            missing.append(f"wesnoth: {WESNOTH_MUSIC} not found (apt-get install wesnoth-1.16-music)")
        else:
            for cls, names in WESNOTH_CLASSES.items():
                by_class.setdefault(cls, []).extend(os.path.join(WESNOTH_MUSIC, f"{n}.ogg") for n in names)
    return by_class, missing


def source(path: str) -> str:
    """Which set a reference track belongs to."""
    return "wesnoth" if path.startswith(WESNOTH_MUSIC) else "immich"
