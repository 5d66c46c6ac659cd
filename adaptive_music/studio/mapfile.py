"""The one mood map file a studio may read and write."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from ..mood.maps import MoodMap, parse_mood_map

MAX_MAP_BYTES = 256 * 1024
"""The largest map the editor accepts; the shipped example is about 2 KiB."""


class MapFile:
    """The mood map file fixed when the studio started; no request names another path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def save(self, text: str) -> MoodMap:
        """Validate ``text`` and, only when valid, replace the file atomically.

        Raises MoodMapError (with the file, line, table and key, as ``serve``
        reports them) and leaves the file unchanged when ``text`` is invalid.
        """
        if len(text.encode("utf-8")) > MAX_MAP_BYTES:
            raise ValueError(f"the map is larger than {MAX_MAP_BYTES // 1024} KiB")
        moods = parse_mood_map(text, str(self.path))
        mode = stat.S_IMODE(self.path.stat().st_mode)
        fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, mode)
            os.replace(temp, self.path)  # readers see the old file or the new one, never half of one
        except BaseException:
            os.unlink(temp)
            raise
        return moods
