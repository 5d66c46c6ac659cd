"""A Python player for a stems build, to audition it: loops with their layers mixed
by intensity, transitions on the next bar line, stingers on the next beat.

It makes blocks the playback stage plays (``adaptive-music play --stems``),
reading only the build's files and manifest, as a game engine would.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .manifest import load_manifest
from .files import read_audio

_LAYER_RAMP = 0.05  # seconds for a layer to fade in or out when the intensity crosses its entry


class StemPlayer:
    """Blocks of a stems build's music, steered by :meth:`set_mood`, :meth:`set_intensity` and :meth:`stinger`."""

    def __init__(self, folder: str | Path, mood: str | None = None, intensity: float = 1.0, block_size: int = 1024):
        self.folder = Path(folder)
        self.manifest = load_manifest(self.folder)
        self.moods = self.manifest["moods"]
        self.sample_rate = int(self.manifest["render"]["sample_rate"])
        self.block_size = block_size
        self.mood = mood or next(iter(self.moods))
        if self.mood not in self.moods:
            raise ValueError(f"unknown mood {self.mood!r}; the build has {', '.join(self.moods)}")
        self._transitions = {(t["from"], t["to"]): t for t in self.manifest["transitions"]}
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._pending: str | None = None
        self._stingers: list[str] = []
        self._intensity = float(intensity)
        self._gains: dict[str, float] = {}
        self._clip: tuple[str, str] = ("loop", self.mood)  # ("loop", mood) or ("transition", "a->b")
        self._pos = 0
        self._playing_stingers: list[list] = []  # [audio, position]
        self.position = 0
        """Samples handed out so far."""
        self.events: list[tuple[int, str]] = []
        """(sample, what started there): loops, transitions and stingers, for tests and displays."""
        self.events.append((0, f"loop {self.mood}"))

    def _audio(self, rel: str) -> np.ndarray:
        if rel not in self._cache:
            self._cache[rel] = read_audio(self.folder / rel)[0]
        return self._cache[rel]

    # -- control (any thread) -----------------------------------------------------

    def set_mood(self, name: str) -> None:
        """Move to mood ``name`` at the playing loop's next bar line, through the rendered transition."""
        if name not in self.moods:
            raise ValueError(f"unknown mood {name!r}; the build has {', '.join(self.moods)}")
        with self._lock:
            self._pending = name

    def set_intensity(self, value: float) -> None:
        """Layers whose ``enters_at`` is at or below ``value`` play."""
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"intensity must be in [0, 1], got {value!r}")
        with self._lock:
            self._intensity = float(value)

    def stinger(self, name: str) -> None:
        """Play stinger ``name`` (in the current mood's key) from the next beat."""
        if name not in self.moods[self.mood]["stingers"]:
            raise ValueError(f"unknown stinger {name!r}")
        with self._lock:
            self._stingers.append(name)

    # -- blocks ------------------------------------------------------------------------

    def next_block(self) -> np.ndarray:
        n = self.block_size
        out = np.zeros((n, 2), np.float32)
        done = 0
        while done < n:
            done += self._fill(out[done:], self.position + done)
        self._mix_stingers(out)
        self.position += n
        return out

    def _fill(self, out: np.ndarray, at: int) -> int:
        """Fill the start of ``out`` from the current clip, up to its end or the next switch."""
        kind, name = self._clip
        if kind == "transition":
            audio = self._audio(self._transitions[tuple(name.split("->"))]["file"])
            k = min(len(out), len(audio) - self._pos)
            out[:k] = audio[self._pos : self._pos + k]
            self._pos += k
            if self._pos == len(audio):
                self._start(("loop", name.split("->")[1]), at + k)
            return k
        mood = self.moods[name]
        length, bar = mood["loop"]["loop_length"], mood["bar_samples"]
        with self._lock:
            pending, self._pending = self._pending, None
            intensity = self._intensity
        if pending == name:
            pending = None
        stop = length - self._pos
        if pending is not None:
            stop = (-self._pos) % bar or (bar if self._pos else 0)  # the next bar line
        k = min(len(out), stop)
        if k:
            self._mix_layers(out[:k], mood, intensity)
            self._pos = (self._pos + k) % length
        if pending is not None and k == stop:
            key = (name, pending)
            if key in self._transitions:
                self._start(("transition", f"{name}->{pending}"), at + k)
            else:
                self._start(("loop", pending), at + k)
        elif pending is not None:
            with self._lock:
                self._pending = self._pending or pending  # not there yet: keep it for the next block
        return k

    def _start(self, clip: tuple[str, str], at: int) -> None:
        self._clip, self._pos = clip, 0
        if clip[0] == "loop":
            self.mood = clip[1]
        self.events.append((at, f"{clip[0]} {clip[1]}"))

    def _mix_layers(self, out: np.ndarray, mood: dict, intensity: float) -> None:
        ramp = max(1, int(_LAYER_RAMP * self.sample_rate))
        # A build without layers (MusicGen's) plays its loop as the one layer.
        for layer in mood["layers"] or [{"file": mood["loop"]["file"], "enters_at": 0.0}]:
            audio = self._audio(layer["file"])[self._pos : self._pos + len(out)]
            target = 1.0 if layer["enters_at"] <= intensity else 0.0
            start = self._gains.get(layer["file"], target)
            step = np.clip(start + np.sign(target - start) * np.arange(1, len(out) + 1) / ramp,
                           min(start, target), max(start, target)).astype(np.float32)
            self._gains[layer["file"]] = float(step[-1])
            if step[-1] or start:
                out += audio * step[:, None]

    def _mix_stingers(self, out: np.ndarray) -> None:
        with self._lock:
            names, self._stingers = self._stingers, []
        if names and self._clip[0] == "loop":
            beat = self.moods[self.mood]["bar_samples"] // self.moods[self.mood]["beats_per_bar"]
            wait = (-(self._pos - len(out))) % beat
            for name in names:
                audio = self._audio(self.moods[self.mood]["stingers"][name]["file"])
                self._playing_stingers.append([audio, -wait])
                self.events.append((self.position + wait, f"stinger {name}"))
        keep = []
        for item in self._playing_stingers:
            audio, pos = item
            a = max(0, -pos)
            k = min(len(out) - a, len(audio) - max(pos, 0))
            if k > 0:
                out[a : a + k] += audio[max(pos, 0) : max(pos, 0) + k]
            item[1] = pos + len(out)
            if item[1] < len(audio):
                keep.append(item)
        self._playing_stingers = keep


def play_stems(player: StemPlayer, output, seconds: float | None = None,
               tick=None) -> dict:
    """Play ``player`` through the playback stage (ring buffer, producer, gapless player)
    to ``output`` (a sound device or a clocked file sink); return the playback counters.

    ``tick(player)`` is called about every 0.1 s (to steer it or show status).
    """
    from ..playback.player import Player, Producer
    from ..playback.ringbuffer import RingBuffer

    sr = player.sample_rate
    ring = RingBuffer(sr, 2)
    limit = None if seconds is None else int(seconds * sr)
    producer = Producer(player.next_block, ring, target_frames=sr // 5, limit_frames=limit)
    stop = threading.Event()
    producer.prefill(stop)
    out = Player(ring, sr, output)
    out.start()
    feeder = threading.Thread(target=producer.run, args=(stop,), daemon=True, name="stems-producer")
    feeder.start()
    try:
        while not out.playback.wait(0.1):
            if tick is not None:
                tick(player)
    finally:
        stop.set()
        feeder.join()
        out.stop()
    return {"underruns": out.playback.underruns, "output_underflows": out.playback.output_underflows,
            "played_seconds": producer.produced / sr}
