"""Size and rate limits of the bridge, and the token buckets that enforce them."""

from __future__ import annotations

import collections
import dataclasses
import time

from ..mood.text import MAX_MOOD_CHARS


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one bridge server accepts. The defaults suit a game on the same machine."""

    max_message_bytes: int = 64 * 1024
    """Set as ZMQ_MAXMSGSIZE before bind: a bigger frame drops the sender's connection."""
    max_text_chars: int = MAX_MOOD_CHARS
    """Longest mood or stinger text: the mood parser's own limit."""
    max_name_chars: int = 100
    """Longest event, parameter or stinger name."""
    max_params: int = 32
    """Most entries in an event's ``params`` map."""
    requests_per_second: float = 10_000.0
    """Sustained requests per client (per ROUTER identity)."""
    request_burst: float = 2_000.0
    """Requests a client may send at once above the sustained rate."""
    stingers_per_second: float = 2.0
    """Stingers for the whole server (each costs tens of milliseconds to render)."""
    stinger_burst: float = 1.0
    mood_interval: float = 0.1
    """Seconds between two mood changes passed to the soundtrack; of changes that
    arrive sooner only the latest is applied. Each change costs the generator
    (and parsing a garbled text tens of milliseconds), so this bounds that cost."""
    intensity_interval: float = 0.02
    """The same for intensity changes."""
    max_clients: int = 1024
    """Clients whose rate state is kept; the least recently seen is forgotten first."""
    queue_length: int = 1000
    """High-water mark of every socket queue and of the internal event queue."""
    status_interval: float = 1.0
    """Seconds between two ``status`` events."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not value > 0:
                raise ValueError(f"Limits.{field.name} must be positive, got {value!r}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class TokenBucket:
    """Allows ``rate`` events per second on average, and ``burst`` at once."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> bool:
        """Spend one token if there is one; return whether it was spent."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ClientBuckets:
    """One token bucket per client identity, for at most ``capacity`` clients (LRU)."""

    def __init__(self, rate: float, burst: float, capacity: int) -> None:
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
        self._buckets: collections.OrderedDict[bytes, TokenBucket] = collections.OrderedDict()

    def take(self, client: bytes, now: float | None = None) -> bool:
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.capacity:
                self._buckets.popitem(last=False)
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, now)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


class LatestWins:
    """Passes at most one value per ``interval`` seconds; of values offered
    sooner, only the latest is kept, to pass when the interval ends."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.pending: object | None = None
        self.coalesced = 0
        """Values replaced by a later one before they could pass."""
        self._last = -float("inf")

    def offer(self, value: object, now: float | None = None) -> bool:
        """True: ``value`` may pass now (it counts as passed). False: it waits."""
        now = time.monotonic() if now is None else now
        if self.pending is None and now - self._last >= self.interval:
            self._last = now
            return True
        if self.pending is not None:
            self.coalesced += 1
        self.pending = value
        return False

    def due(self) -> float | None:
        """When the waiting value may pass (monotonic time), or None if none waits."""
        return None if self.pending is None else self._last + self.interval

    def take(self, now: float | None = None) -> object | None:
        """The waiting value if its time has come (it counts as passed), else None."""
        now = time.monotonic() if now is None else now
        if self.pending is None or now - self._last < self.interval:
            return None
        value, self.pending, self._last = self.pending, None, now
        return value
