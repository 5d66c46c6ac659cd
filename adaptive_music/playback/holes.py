"""Silence an output's stream let through, measured on the output's own clock."""

from __future__ import annotations


class HoleMeter:
    """Counts the holes in a stream from when its buffers are heard.

    Without holes, a buffer is heard exactly its predecessor's length after
    it. When the stream runs dry, the sound server plays silence and the
    music resumes later: the heard-at time of the next buffer jumps by the
    length of the hole. The meter follows ``heard_at - frames / rate``
    slowly (so that jitter and a device clock drifting against the
    monotonic one count as nothing); a rise of more than ``tolerance`` above
    it is a hole, and moves it at once.

    The first ``settle`` seconds of a stream are not measured: a fresh
    server stream may wait up to about 2 s before it plays at all (a start,
    not a hole in the music).
    """

    _FOLLOW = 0.01  # share of the distance the mark moves per buffer while there is no hole

    def __init__(self, sample_rate: int, tolerance: float, settle: float = 0.25) -> None:
        self.sample_rate = int(sample_rate)
        self.tolerance = float(tolerance)
        self.settle_frames = round(settle * sample_rate)
        self.holes = 0
        self.lost_seconds = 0.0
        self.longest = 0.0
        self._frames = 0
        self._mark: float | None = None

    def restart(self) -> None:
        """A new stream: measure it afresh (the counts go on)."""
        self._frames = 0
        self._mark = None

    def observe(self, heard_at: float, frames: int) -> None:
        """A buffer of ``frames`` whose first frame is heard at ``heard_at``."""
        offset = heard_at - self._frames / self.sample_rate
        self._frames += frames
        if self._frames <= self.settle_frames:
            return
        if self._mark is None:
            self._mark = offset
        elif offset > self._mark + self.tolerance:
            hole = offset - self._mark
            self.holes += 1
            self.lost_seconds += hole
            self.longest = max(self.longest, hole)
            self._mark = offset
        elif offset < self._mark - self.tolerance:  # the clock was corrected back: re-anchor
            self._mark = offset
        else:
            self._mark += self._FOLLOW * (offset - self._mark)
