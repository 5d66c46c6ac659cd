"""The live soundtrack: a streaming generator playing through a sound device, steered while it plays.

Example::

    from adaptive_music import Soundtrack

    with Soundtrack(backend="procedural", seed=1, mood="exploring a quiet cave") as music:
        music.set_intensity(0.3)
        music.on_bar(lambda beat: print("bar", beat.bar, "heard at", beat.time))
        music.on_transition(lambda t: print("mood", t.phase, t.text, "heard at", t.time))
        ...
        music.set_mood("ambush! fast drums", transition="beat")
        music.stinger("item_pickup")

Control calls are checked on the caller's thread (bad input raises there)
and handed to the generator, which applies them just before it makes the
next block. Calls made faster than blocks are made coalesce: the latest mood
and the latest intensity win, and at most a few stingers wait. Because each
call lands at an exact stream position, a session can be rendered again
offline, sample for sample (:meth:`Soundtrack.controls`,
:func:`~adaptive_music.playback.feed.render_controls`).
"""

from __future__ import annotations

import threading
from typing import Any

from ..config import StreamConfig
from ..engine.timeline import Transition, check_transition
from ..models import load_backend
from ..models.base import Marker, Model, Mood, check_intensity
from .beats import BeatCallback, BeatDispatcher, TransitionCallback
from .device import ClockedFileSink, DeviceOutput, output_spec
from .engine_output import EngineOutput
from .feed import Control, GeneratorSpec, ProcessFeed, ThreadFeed
from .player import Output

INTENSITY_RAMP = 0.5
"""Seconds :meth:`Soundtrack.set_intensity` ramps over unless told otherwise."""


class Soundtrack:
    """Live adaptive music on a sound device; a context manager.

    Parameters
    ----------
    backend
        Backend name for :func:`~adaptive_music.models.load_backend`, or a model object.
    seed
        Same seed and same control calls at the same stream positions give the same music.
    mood
        The starting mood text.
    device
        Output device index or name; None for the system default. Ignored with ``sink``.
    latency
        Requested device latency in seconds.
    max_latency
        How far the device buffer may widen after underflows, in seconds (PulseAudio only;
        see :class:`~adaptive_music.playback.latency.AdaptiveLatency`); None keeps ``latency``.
        While it is wider, a "now" mood change is heard later by as much.
    sink
        Play into this output instead of a sound device, e.g. a
        :class:`~adaptive_music.playback.device.ClockedFileSink`, or an
        :class:`~adaptive_music.playback.engine_output.EngineOutput` that a game
        engine pulls (its pulls then also fire the beat and transition callbacks).
    ahead
        Seconds generated ahead of the device, the floor of the mood-change
        latency. Smaller reacts faster; too small underruns when a block is
        slow to make. The default keeps a "now" change within 150 ms of being
        heard with the procedural backend (``bench/playback.py``).
    blocksize
        Device frames per callback; 0 lets the host choose.
    seconds
        Stop after this much music; None plays until :meth:`close`.
    process
        Generate and play in a child process, out of this process's GIL (see
        :mod:`~adaptive_music.playback.feed`). None: yes when ``backend`` is a
        name and the output a :class:`~adaptive_music.playback.device.DeviceOutput`
        or :class:`~adaptive_music.playback.device.ClockedFileSink`.
    record_controls
        Keep every control call with its stream position (:meth:`controls`).
    config
        Stream configuration for the generator; the backend's default if None.
    fallback
        Why ``backend`` plays instead of the one asked for (for example a neural backend
        too slow here), reported by :meth:`status` until another fallback replaces it.
    **backend_options
        Passed to :func:`~adaptive_music.models.load_backend`. The procedural backend plays
        sampled instruments from a SoundFont when one is found (``soundfont="auto"``, the
        default here; ``"none"`` for the built-in synthesizer), else its built-in synthesizer,
        reported as a fallback by :meth:`status`.
    """

    def __init__(self, backend: str | Model = "procedural", seed: int = 0,
                 mood: str = "calm exploration", device: int | str | None = None, latency: float = 0.02,
                 sink: Output | None = None, *, max_latency: float | None = 0.1, ahead: float = 0.05,
                 blocksize: int = 0,
                 seconds: float | None = None, process: bool | None = None, record_controls: bool = False,
                 config: StreamConfig | None = None, fallback: str | None = None,
                 **backend_options: Any) -> None:
        # Long only for pre-buffering a backend slower than real time (see cli/warmup.py).
        if not (isinstance(ahead, (int, float)) and 0 < ahead <= 3600):
            raise ValueError(f"ahead must be between 0 and 3600 seconds, got {ahead!r}")
        if seconds is not None and not seconds > 0:
            raise ValueError(f"seconds must be positive, got {seconds!r}")
        if backend == "procedural":
            backend_options.setdefault("soundfont", "auto")
        # This process keeps a model too: to check mood texts as they are set.
        self.model = load_backend(backend, **backend_options) if isinstance(backend, str) else backend
        self.config = config or self.model.default_config()
        if isinstance(sink, EngineOutput) and config is None:
            # The engine output resamples to the engine's rate: the generator keeps the backend's
            # own (32 kHz MusicGen, say), so that the music is resampled once.
            self.config = self.config.replace(output_sample_rate=self.model.sample_rate)
        _check_mood(self.model, Mood(mood))  # a bad starting mood fails here, not in the generator
        self.spec = GeneratorSpec(backend, mood, seed, self.config, backend_options)
        output = sink if sink is not None else DeviceOutput(device, blocksize=blocksize, latency=latency,
                                                                     max_latency=max_latency)

        sr, channels = self.config.output_sample_rate, self.config.channels
        self.ahead = float(ahead)
        target = max(1, round(ahead * sr))
        capacity = target + 4 * self.config.block_size
        limit = None if seconds is None else round(seconds * sr)
        self._controls: list[Control] | None = [] if record_controls else None
        spec = output_spec(output)
        if process is None:
            process = isinstance(backend, str) and spec is not None
        feed_args = (capacity, sr, channels, target, limit, self._applied, self._markers, self._transitions)
        if process:
            if spec is None:
                raise TypeError(f"{type(output).__name__} can't play in another process; pass process=False")
            self.feed: ThreadFeed | ProcessFeed = ProcessFeed(self.spec, spec, *feed_args)
        else:
            self.feed = ThreadFeed(self.spec, output, *feed_args)
        self.playback = self.feed.playback
        """Where the music is, and pause/resume: a :class:`~adaptive_music.playback.player.Playback`."""
        self.beats = BeatDispatcher(self.playback.heard_at)
        self.engine = output if isinstance(output, EngineOutput) else None
        """The output a game engine pulls, or None."""
        if self.engine is not None:
            self.engine.attach(self.playback, self.beats, self.feed.wake)
        self.output_mode = "engine" if self.engine else "file" if isinstance(output, ClockedFileSink) else "device"
        """``device``, ``engine`` or ``file``."""
        self._lock = threading.Lock()
        self._mood = Mood(mood)
        self._fallback = fallback
        self._started = False
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> "Soundtrack":
        """Start the generator, wait until it is ahead, and open the output."""
        if self._closed:
            raise RuntimeError("this soundtrack was closed; make a new one")
        if not self._started:
            self._started = True
            if self.engine is None:  # an engine's pulls fire the callbacks instead
                self.beats.start()
            try:
                self.feed.start()
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Stop playing, close the output and end the generator."""
        if self._closed:
            return
        self._closed = True
        self.feed.stop()
        if self._started and self.engine is None:
            self.beats.stop()

    def __enter__(self) -> "Soundtrack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, timeout: float | None = None) -> bool:
        """With ``seconds`` set: wait until it has all been heard; True when it has."""
        return self.playback.wait(timeout)

    # -- control (any thread) -----------------------------------------------------

    def set_mood(self, text: str, transition: str = "now", ramp: float | None = None) -> None:
        """Move to the mood ``text`` at the next ``transition`` ("now", "beat" or "bar"),
        blending over ``ramp`` seconds (default 0)."""
        ramp = 0.0 if ramp is None else ramp
        check_transition(transition, ramp)
        with self._lock:
            mood = Mood(text, self._mood.intensity)
            _check_mood(self.model, mood)
            self._mood = mood
        self.feed.send("set_mood", (text, transition, float(ramp)))

    def set_intensity(self, x: float, ramp: float = INTENSITY_RAMP) -> None:
        """Set the intensity, in [0, 1]; layers and density follow over ``ramp`` seconds."""
        x = check_intensity(x)
        check_transition("now", ramp)
        with self._lock:
            self._mood = Mood(self._mood.text, x)
        self.feed.send("set_intensity", (x, float(ramp)))

    def stinger(self, name_or_text: str) -> None:
        """Play a short accent in the current key and tempo on the next beat.

        ``name_or_text`` is a stinger name (``item_pickup``, ``level_up``, ...)
        or a mood text that picks one. While more than a few wait, more are dropped.
        """
        from ..models.procedural.stingers import check_stinger

        check_stinger(name_or_text)
        self.feed.send("stinger", (name_or_text,))

    def pause(self) -> None:
        """Fade out and hold; the music resumes where it stopped."""
        self.playback.pause()

    def resume(self) -> None:
        self.playback.resume()

    def on_beat(self, callback: BeatCallback) -> None:
        """Call ``callback(beat)`` (a :class:`~adaptive_music.playback.beats.Beat`) as each beat is heard.

        Callbacks run on a dedicated thread, not the audio thread; ``beat.time``
        is when the beat is heard, on :func:`time.monotonic`'s clock. A callback
        that raises is logged and removed.
        """
        self.beats.on_beat(callback)

    def on_bar(self, callback: BeatCallback) -> None:
        """Like :meth:`on_beat`, on the first beat of each bar."""
        self.beats.on_bar(callback)

    def on_transition(self, callback: TransitionCallback) -> None:
        """Call ``callback(transition)`` (a :class:`~adaptive_music.playback.beats.MoodTransition`)
        as each mood or intensity change starts being heard (``phase`` "start") and as its ramp
        completes ("end"; at the same sample as the start for a change without a ramp).

        Like the beat callbacks: on the same dedicated thread, in stream order with the
        beats, ``transition.time`` on :func:`time.monotonic`'s clock; one that raises is
        logged and removed.
        """
        self.beats.on_transition(callback)

    # -- state ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where the music is: mood and intensity (latest requested), playhead and
        buffered seconds, underruns, the bpm, bar and beat last heard, the backend
        generating with why it is a fallback (None when it is the one asked for), the
        output (``device``, ``engine`` or ``file``; an engine output adds its
        ``engine_rate``, stream ``position`` and ``pulls``), what plays it (``host``) and
        the silence it let through (``holes``, ``lost_seconds``, ``longest_hole``). The
        procedural backend adds its ``renderer`` (``sampled`` or ``builtin``); a missing
        SoundFont is a fallback too, and so are keys the font has no sample at."""
        heard = self.beats.last
        playback = self.playback
        error = self.feed.error
        # The generator's own model reports; this process's copy stands in until it has.
        backend, failure, renderer = self.feed.backend or (self.model.name, None,
                                                           getattr(self.model, "renderer_fallback", None))
        return {
            "backend": backend,
            "fallback": failure or self._fallback or renderer,
            "renderer": getattr(self.model, "renderer", None),
            "mood": self._mood.text,
            "intensity": self._mood.intensity,
            "playhead": playback.playhead,
            "buffered": playback.buffered,
            "underruns": playback.underruns,
            "output_underflows": playback.output_underflows,
            "holes": playback.holes,
            "lost_seconds": playback.lost_seconds,
            "longest_hole": playback.longest_hole,
            "host": playback.host,
            "bpm": heard.bpm if heard else None,
            "bar": heard.bar if heard else None,
            "beat": heard.beat if heard else None,
            "beats_per_bar": heard.beats_per_bar if heard else None,
            "paused": playback.paused,
            "latency": playback.latency,
            "error": None if error is None else str(error),
            "output": self.output_mode,
            **(self.engine.status() if self.engine else {}),
        }

    def controls(self) -> list[Control]:
        """The control calls applied so far, with their positions (needs ``record_controls``)."""
        if self._controls is None:
            raise RuntimeError("make the Soundtrack with record_controls=True to keep its controls")
        return list(self._controls)

    # -- from the generator ---------------------------------------------------------

    def _applied(self, control: Control) -> None:
        if self._controls is not None:
            self._controls.append(control)

    def _markers(self, markers: list[Marker]) -> None:
        self.beats.add(markers)

    def _transitions(self, transitions: list[Transition]) -> None:
        self.beats.add_transitions(transitions)


def _check_mood(model: Model, mood: Mood) -> None:
    """Raise for a mood text no backend should play: every backend refuses what
    :func:`~adaptive_music.mood.text.parse_mood` refuses (MusicGen reads any text
    itself, but "zxqv blorp" is refused the same whichever backend plays), then
    whatever else this backend can't use."""
    from ..mood.text import parse_mood

    parse_mood(mood.text)
    model.condition(mood)
