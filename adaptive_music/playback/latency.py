"""How much a device buffer should hold: small while the machine keeps up, wider after an underflow."""

from __future__ import annotations


class AdaptiveLatency:
    """The latency a stream should ask for, as a jitter buffer chooses it.

    It starts at ``least``. An underflow widens it by one step (``least``)
    up to ``most``, so that a machine that keeps stalling the audio thread for
    longer than the buffer costs fewer holes; each ``calm`` seconds without an
    underflow narrow it one step again, back towards the latency asked for.
    ``most`` equal to ``least`` keeps it fixed. Underflows within ``settle``
    seconds of the one that widened it count as the same stall: one stall of
    the audio thread shows as 3-4 holes on PulseAudio's clock while the
    server's latency report converges.

    Times are seconds on any monotonic clock.
    """

    def __init__(self, least: float, most: float, calm: float = 120.0, settle: float = 1.0) -> None:
        if not 0 < least <= most:
            raise ValueError(f"need 0 < least <= most, got least={least!r}, most={most!r}")
        self.least, self.most, self.calm, self.settle = float(least), float(most), float(calm), float(settle)
        self.now = self.least
        """The latency to ask for now, in seconds."""
        self.widenings = 0
        self._changed_at: float | None = None
        self._widened_at = -float("inf")

    def underflow(self, t: float) -> float:
        """An underflow at time ``t``; returns the latency to ask for from now on."""
        self._changed_at = t
        if self.now < self.most and t - self._widened_at >= self.settle:
            self.now = min(self.most, round(self.now + self.least, 6))
            self.widenings += 1
            self._widened_at = t
        return self.now

    def tick(self, t: float) -> float:
        """Time ``t`` passed without an underflow; returns the latency to ask for from now on."""
        if self._changed_at is None:
            self._changed_at = t
        elif self.now > self.least and t - self._changed_at >= self.calm:
            self.now = max(self.least, round(self.now - self.least, 6))
            self._changed_at = t
        return self.now
