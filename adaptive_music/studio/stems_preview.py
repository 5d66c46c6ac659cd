"""Stems preview: the map in use rendered as ``adaptive-music stems`` renders it, into a folder the
studio owns, its loops and transitions listed for the page and served by their manifest names only.

A rebuild after an edit renders again only what the edit changed (stems reuse unchanged files).
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..mood.maps import MoodMap
from ..stems import build_stems, spec_from_map

MAX_BARS = 16
"""The longest loop a preview renders, in bars."""
MEDIA_TYPES = {".wav": "audio/wav", ".ogg": "audio/ogg"}


class StemsPreview:
    """Stems of the studio's map in ``folder``: built on request, listed, and served by name."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._files: frozenset[str] = frozenset()
        self._listing: dict | None = None
        self._lock = threading.Lock()  # one build at a time; readers see the last complete one

    def build(self, moods: MoodMap, bars: int) -> dict:
        """Render ``moods``' loops and every transition between them (WAV, no MIDI); the listing.

        Raises ValueError (a StemsError) for a map stems cannot render or a bad ``bars``.
        """
        if type(bars) is not int or not 1 <= bars <= MAX_BARS:
            raise ValueError(f"bars must be a whole number from 1 to {MAX_BARS}")
        spec = spec_from_map(moods, bars=bars, format="wav", midi=False, transition_bars=1)
        with self._lock:
            manifest = build_stems(spec, self.folder)
            self._listing = {
                "bars": bars,
                "moods": [{"name": name, "file": entry["loop"]["file"], "bpm": entry["bpm"], "meter": entry["meter"],
                           "layers": [layer["name"] for layer in entry["layers"]]}
                          for name, entry in manifest["moods"].items()],
                "transitions": [{"from": t["from"], "to": t["to"], "file": t["file"], "bars": t["bars"]}
                                for t in manifest["transitions"]],
            }
            self._files = frozenset([m["file"] for m in self._listing["moods"]]
                                    + [t["file"] for t in self._listing["transitions"]])
        return self._listing

    def listing(self) -> dict | None:
        """The last build's loops and transitions, or None before the first."""
        return self._listing

    def file(self, name: str) -> Path | None:
        """The file a listing names, or None for any other name (no path from a request is opened)."""
        return self.folder / name if name in self._files else None
