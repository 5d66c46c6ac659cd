"""The streaming generator: drives any backend in overlapping token windows.

Each step generates ``hop`` frames of tokens continuing the window (audio
continuation), decodes them together with ``crossfade`` frames of overlap,
and stitches the overlap to the previous step. When the window is full it
rolls to its last ``context`` frames. The stitched audio then goes through
the backend's effect, resampling to the output rate, and mastering, and is
handed out in fixed-size blocks.

Output lags generation by the crossfade: the last ``crossfade`` frames of a
step are held back until the next step decodes them again.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
import math
import threading
from typing import Any, Callable, Iterable

import numpy as np

from ..config import StreamConfig
from ..models.base import GeneratorState, Marker, Model, Mood, check_intensity
from .master import Leveler, soft_limit
from .resample import StreamResampler
from .seams import stitch
from .timeline import ConditionTrack, MoodChange, Transition, check_transition

_MAX_PENDING_STINGERS = 8
log = logging.getLogger(__name__)


# Stingers are synthesised here, not on the generator's thread: a first one takes 5-30 ms,
# most of the 50 ms a live stream keeps ahead, and it is not heard before the next beat.
_STINGER_RENDERER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="stinger")


@dataclasses.dataclass
class _Stinger:
    start: int  # backend sample
    rendering: concurrent.futures.Future  # its audio, in the backend's channels

    @property
    def audio(self) -> np.ndarray:
        return self.rendering.result()


class StreamingGenerator:
    """An endless, steerable stream of music blocks from one backend.

    Parameters
    ----------
    model:
        The backend.
    mood:
        The starting mood, as text or :class:`Mood`.
    config:
        Stream lengths; defaults to ``model.default_config()``.
    seed:
        Same seed and same mood timeline give the same audio.
    changes:
        An offline timeline of :class:`MoodChange` to apply as the stream
        reaches them (times from the start of the stream).
    initial_state:
        Continue from this state (for example a prompt's codes) instead of
        an empty window.
    fallback:
        If the backend fails mid-stream, carry on with this one (for example
        the procedural backend behind MusicGen), crossfading so that no gap
        is heard. ``failure`` then says what went wrong.

    ``set_mood``, ``set_intensity`` and ``stinger`` may be called from any
    thread; they take effect at the next generation step. Everything else
    belongs to the thread that pulls blocks.
    """

    def __init__(self, model: Model, mood: Mood | str, *, config: StreamConfig | None = None,
                 seed: int = 0, changes: Iterable[MoodChange] = (), record_seams: bool = False,
                 initial_state: GeneratorState | None = None, fallback: Model | None = None):
        self.model = model
        self.fallback = fallback
        self.failure: str | None = None
        """Why the stream moved to its fallback backend, or None."""
        self.config = config or model.default_config()
        cfg = self.config
        if cfg.sample_rate != model.sample_rate or cfg.frame_rate != model.frame_rate:
            raise ValueError(
                f"config rates ({cfg.sample_rate} Hz, {cfg.frame_rate} frames/s) do not match the "
                f"{model.name} backend ({model.sample_rate} Hz, {model.frame_rate} frames/s)")
        self.seed = int(seed)
        self._lock = threading.Lock()
        self._conditions: collections.OrderedDict[Mood, Any] = collections.OrderedDict()
        self._mood = mood if isinstance(mood, Mood) else Mood(mood)
        self._track = ConditionTrack(self._condition(self._mood))
        self._timeline = sorted(changes, key=lambda c: c.at)
        self._cmd_mood: tuple | None = None
        self._cmd_stingers: list[str] = []
        self._state: GeneratorState = initial_state or model.initial_state(cfg, self.seed)
        self._origin = self._state.frame
        self._out_origin = self._origin  # backend frame of output sample 0
        self._tail: np.ndarray | None = None
        self._fx = model.effects()
        # The backend's own channels up to the resampler; the output's from there on.
        self._resampler = StreamResampler(cfg.sample_rate, cfg.output_sample_rate, model.channels)
        self._leveler = Leveler(cfg.output_sample_rate, cfg.channels)
        self._stingers: list[_Stinger] = []
        self._out = np.zeros((0, cfg.channels), np.float32)
        self._markers: collections.deque[Marker] = collections.deque(maxlen=4096)
        self._transitions: collections.deque[Transition] = collections.deque(maxlen=256)
        self._last_marker: Marker | None = None
        self._emitted_frames = 0  # backend frames stitched and sent downstream
        self.position = 0
        """Output samples handed out so far."""
        self.seams: list[int] | None = [] if record_seams else None
        """Output-sample positions of window seams (when ``record_seams``)."""
        self._overlap = 0  # output samples at the end of _out to crossfade with the next audio

    # -- control (any thread) ------------------------------------------------

    def set_mood(self, text: str, transition: str = "now", ramp: float = 0.0) -> None:
        """Move to a new mood at the next ``transition`` boundary, blending over ``ramp`` seconds."""
        check_transition(transition, ramp)
        with self._lock:
            mood = Mood(text, self._pending_mood().intensity)
            cond = self._condition(mood)
            self._cmd_mood = (mood, cond, transition, float(ramp))

    def set_intensity(self, value: float, ramp: float = 0.5) -> None:
        """Change intensity (0..1): layers and density follow over ``ramp`` seconds."""
        value = check_intensity(value)
        check_transition("now", ramp)
        with self._lock:
            mood = Mood(self._pending_mood().text, value)
            cond = self._condition(mood)
            # A mood change still waiting keeps its own transition and ramp.
            transition, ramp = self._cmd_mood[2:] if self._cmd_mood else ("now", float(ramp))
            self._cmd_mood = (mood, cond, transition, ramp)

    def stinger(self, name_or_text: str) -> None:
        """Play a short accent, in the current key and tempo, on the next beat."""
        from ..models.procedural.stingers import check_stinger

        check_stinger(name_or_text)
        with self._lock:
            if len(self._cmd_stingers) < _MAX_PENDING_STINGERS:
                self._cmd_stingers.append(name_or_text)

    @property
    def mood(self) -> Mood:
        with self._lock:
            return self._pending_mood()

    def _pending_mood(self) -> Mood:
        return self._cmd_mood[0] if self._cmd_mood else self._mood

    def _condition(self, mood: Mood) -> Any:
        cond = self._conditions.get(mood)
        if cond is None:
            cond = self.model.condition(mood)
            self._conditions[mood] = cond
            if len(self._conditions) > 64:
                self._conditions.popitem(last=False)
        else:
            self._conditions.move_to_end(mood)
        return cond

    # -- output --------------------------------------------------------------

    def next_block(self) -> np.ndarray:
        """The next ``config.block_size`` samples, shape (block_size, channels), float32."""
        n = self.config.block_size
        while len(self._out) < n:
            try:
                self._step()
            except Exception as exc:
                if self.fallback is None or self.model is self.fallback:
                    raise
                self._switch_to_fallback(exc)
        block, self._out = self._out[:n], self._out[n:]
        self.position += n
        return block

    def _out_sample(self, sample: float) -> int:
        """Output-sample position of a backend sample position."""
        cfg = self.config
        return round((sample - self._out_origin * cfg.samples_per_frame) * cfg.output_sample_rate / cfg.sample_rate)

    def take_transitions(self) -> list[Transition]:
        """Mood changes generated so far and not yet taken: where each starts and ends
        being heard, in output samples (``end`` follows ``start`` by the ramp)."""
        return _drain(self._transitions)

    def take_markers(self) -> list[Marker]:
        """Beats generated so far and not yet taken; ``sample`` is in output samples."""
        return _drain(self._markers)

    @property
    def backend(self) -> str:
        """The name of the backend generating now (the fallback's after a failure)."""
        return self.model.name

    def status(self) -> dict:
        """Mood, intensity and musical position at the generation head, and the backend
        generating (``fallback``: why it is not the one asked for, or None)."""
        m = self._last_marker
        mood = self.mood
        return {
            "backend": self.backend,
            "fallback": self.failure,
            "mood": mood.text,
            "intensity": mood.intensity,
            "bpm": m.bpm if m else None,
            "bar": m.bar if m else None,
            "beat": m.beat if m else None,
            "beats_per_bar": m.beats_per_bar if m else None,
            "key": m.root if m else None,
            "scale": m.scale if m else None,
            "generated_seconds": (self._state.frame - self._origin) / self.config.frame_rate,
        }

    # -- generation ----------------------------------------------------------

    def _apply_commands(self) -> None:
        with self._lock:
            cmd, self._cmd_mood = self._cmd_mood, None
            stingers, self._cmd_stingers = self._cmd_stingers, []
            if cmd:
                self._mood = cmd[0]
        if cmd:
            self._schedule(cmd[1], cmd[2], cmd[3], cmd[0])
        for name in stingers:
            self._schedule_stinger(name)

    def _apply_timeline(self) -> None:
        cfg = self.config
        head = self._state.frame
        while self._timeline and self._origin + self._timeline[0].at * cfg.frame_rate < head + cfg.hop_frames:
            change = self._timeline.pop(0)
            at = self._origin + change.at * cfg.frame_rate
            mood = Mood(change.text if change.text is not None else self._mood.text,
                        change.intensity if change.intensity is not None else self._mood.intensity)
            self._mood = mood
            cond = self._condition(mood)
            if change.transition == "now":
                self._track.add(cond, max(at, head), change.ramp * cfg.frame_rate, mood)
            else:
                self._schedule(cond, change.transition, change.ramp, mood)

    def _schedule(self, cond: Any, transition: str, ramp: float, mood: Mood) -> None:
        cfg = self.config
        start = float(self._state.frame)
        if transition != "now":
            boundary = self.model.next_boundary(self._state, transition)
            if boundary is not None:
                start = boundary / cfg.samples_per_frame
        self._track.add(cond, start, ramp * cfg.frame_rate, mood)

    def _schedule_stinger(self, name: str) -> None:
        from ..models.procedural.stingers import render_stinger

        cfg = self.config
        start = self.model.next_boundary(self._state, "beat")
        if start is None:
            start = self._state.frame * cfg.samples_per_frame
        m = self._last_marker
        where = dict(root=m.root if m else 0, scale=m.scale if m else "major", bpm=m.bpm if m else 100.0)
        channels = self.model.channels
        rendering = _STINGER_RENDERER.submit(
            lambda: to_channels(render_stinger(name, sample_rate=cfg.sample_rate, **where), channels))
        self._stingers.append(_Stinger(start, rendering))

    def _stingers_rendered(self, before: int) -> None:
        """Wait for the stingers that start before backend sample ``before``. One that failed to
        render is dropped and its error raised here, before a step changes any state, so that
        the fallback loses no audio (as for any other backend failure)."""
        for s in list(self._stingers):
            if s.start < before and s.rendering.exception() is not None:
                self._stingers.remove(s)
                raise s.rendering.exception()

    def _step(self) -> None:
        cfg, model = self.config, self.model
        self._apply_commands()
        self._apply_timeline()
        state = self._state
        self._stingers_rendered((state.frame + cfg.hop_frames) * cfg.samples_per_frame)
        if len(state.tokens) + cfg.hop_frames > cfg.window_frames:
            state = self._state = model.roll(state, cfg.context_frames)
        # Output lags generation by the crossfade: keep ramps those frames still need.
        self._track.settle(state.frame - cfg.crossfade_frames)
        # Generate the hop in short calls, taking live changes between them.
        parts = []
        for done in range(0, cfg.hop_frames, cfg.control_frames):
            if done:
                self._apply_commands()
            n = min(cfg.control_frames, cfg.hop_frames - done)
            part, self._state = model.generate(self._state, self._track.condition, n, self.seed)
            parts.append(part)
        tokens, new_state = (parts[0] if len(parts) == 1 else np.concatenate(parts)), self._state
        for phase, frame, mood in self._track.crossings(state.frame, new_state.frame):
            self._transitions.append(Transition(phase, mood, self._out_sample(frame * cfg.samples_per_frame)))
        for m in model.markers(tokens, state):
            m = dataclasses.replace(m, sample=self._out_sample(m.sample))
            self._markers.append(m)
            self._last_marker = m
        x = min(cfg.crossfade_frames, len(state.tokens))
        context = state.replace(tokens=state.tokens[: len(state.tokens) - x]) if x else state
        window = np.concatenate([state.tokens[len(state.tokens) - x :], tokens]) if x else tokens
        audio = model.decode(window, context)
        spf = cfg.samples_per_frame
        if self._tail is not None:
            overlap = len(self._tail)
            audio = np.concatenate([stitch(self._tail, audio[:overlap]), audio[overlap:]])
        hold = cfg.crossfade_frames * spf
        first_frame = new_state.frame - (len(audio) // spf)
        if self.seams is not None and self._tail is not None:
            self.seams.append(round((first_frame - self._out_origin) * spf * cfg.output_sample_rate / cfg.sample_rate))
        emit, self._tail = audio[: len(audio) - hold], audio[len(audio) - hold :]
        self._emit(emit, first_frame)

    def _emit(self, audio: np.ndarray, first_frame: int, final: bool = False) -> None:
        cfg = self.config
        if self._emitted_frames == 0 and first_frame < self._origin:
            self._out_origin = first_frame  # a prompt's last frames lead in
        start = first_frame * cfg.samples_per_frame
        audio = self._mix_stingers(audio.astype(np.float32, copy=True), start)
        if self._fx is not None:
            audio = self._fx.process(audio, self._track.condition, first_frame)
        self._emitted_frames = first_frame + len(audio) // cfg.samples_per_frame
        out = to_channels(self._resampler.process(audio, final=final), cfg.channels)
        out = soft_limit(self._leveler.process(out))
        if self._overlap and len(out):
            # The first audio after a fallback fades in over the old backend's fade-out.
            n = min(self._overlap, len(out))
            fade_in = np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float32) + 0.5) / self._overlap)[:, None]
            start = len(self._out) - self._overlap
            self._out[start : start + n] = soft_limit(self._out[start : start + n] + out[:n] * fade_in)
            self._overlap -= n
            out = out[n:]
        self._out = np.concatenate([self._out, out]) if len(self._out) else out

    def _switch_to_fallback(self, exc: Exception) -> None:
        """Fade the failed backend out over the audio it still held, and start the fallback under it."""
        old, fb = self.config, self.fallback
        self.failure = f"{self.model.name} backend failed: {type(exc).__name__}: {exc}"
        log.error("%s; continuing with the %s backend", self.failure, fb.name)
        tail = self._tail if self._tail is not None else np.zeros((0, self.model.channels), np.float32)
        fade_out = np.cos(0.5 * np.pi * (np.arange(len(tail), dtype=np.float32) + 0.5) / max(1, len(tail)))
        before = len(self._out)
        self._tail = None
        self._emit(tail * fade_out[:, None], self._emitted_frames, final=True)
        self._overlap = len(self._out) - before
        self.model = fb
        self.config = fb.default_config().replace(output_sample_rate=old.output_sample_rate,
                                                  channels=old.channels, block_size=old.block_size)
        cfg = self.config
        with self._lock:
            self._conditions.clear()  # conditions belong to a backend
            self._track = ConditionTrack(self._condition(self._mood))
            if self._cmd_mood:
                mood = self._cmd_mood[0]
                self._cmd_mood = (mood, self._condition(mood)) + self._cmd_mood[2:]
        self._state = fb.initial_state(cfg, self.seed)
        # The fallback's frame 0 is heard where the fade-out starts.
        start = (self.position + len(self._out) - self._overlap) * cfg.sample_rate / cfg.output_sample_rate
        self._origin = self._out_origin = -start / cfg.samples_per_frame
        self._fx = fb.effects()
        self._resampler = StreamResampler(cfg.sample_rate, cfg.output_sample_rate, fb.channels)
        self._stingers = []
        self._emitted_frames = 0
        while self._overlap:  # cover the fade-out before any of it is handed out
            self._step()

    def _mix_stingers(self, audio: np.ndarray, start: int) -> np.ndarray:
        end = start + len(audio)
        keep = []
        for s in self._stingers:
            if s.start >= end:  # not heard yet: it may still be rendering
                keep.append(s)
                continue
            a, b = max(start, s.start), min(end, s.start + len(s.audio))
            if a < b:
                audio[a - start : b - start] += s.audio[a - s.start : b - s.start]
            if s.start + len(s.audio) > end:
                keep.append(s)
        self._stingers = keep
        return audio


def to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``audio`` (samples, c) as ``channels`` channels: mono spread to every channel, or
    channels averaged down to mono."""
    have = audio.shape[1]
    if have == channels:
        return audio
    if have == 1:
        return np.repeat(audio, channels, axis=1)
    if channels == 1:
        return audio.mean(axis=1, keepdims=True, dtype=np.float32)
    raise ValueError(f"cannot map {have} audio channels to {channels}")


def _drain(queue: collections.deque) -> list:
    """Everything in ``queue``, taken out (safe while another thread appends)."""
    out = []
    while queue:
        out.append(queue.popleft())
    return out


def render(model: Model, mood: Mood | str, seconds: float, *, seed: int = 0,
           changes: Iterable[MoodChange] = (), config: StreamConfig | None = None,
           progress: Callable[[float], None] | None = None,
           initial_state: GeneratorState | None = None) -> "Rendered":
    """Render ``seconds`` of music offline, following a timeline of changes."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    changes = list(changes)
    for c in changes:
        if c.at >= seconds:
            raise ValueError(f"change at {c.at:g} s is outside the {seconds:g} s render")
    if config is None:
        # Offline, a longer hop means fewer steps; the audio is the same.
        config = model.default_config()
        hop = max(config.hop_seconds, min(1.0, config.window_seconds - config.context_seconds))
        config = config.replace(hop_seconds=hop, control_seconds=hop,
                                block_size=int(hop * config.output_sample_rate))
    gen = StreamingGenerator(model, mood, config=config, seed=seed, changes=changes, record_seams=True,
                             initial_state=initial_state)
    cfg = gen.config
    total = int(round(seconds * cfg.output_sample_rate))
    audio = np.empty((total, cfg.channels), np.float32)
    have, markers = 0, []
    while have < total:
        block = gen.next_block()
        n = min(len(block), total - have)
        audio[have : have + n] = block[:n]
        have += n
        markers.extend(gen.take_markers())
        if progress:
            progress(have / total)
    seams = [s for s in (gen.seams or []) if 0 < s < total]
    return Rendered(audio, cfg.output_sample_rate, seams, [m for m in markers if m.sample < total])


@dataclasses.dataclass
class Rendered:
    """An offline render: audio (samples, channels), its rate, seam positions and beats."""

    audio: np.ndarray
    sample_rate: int
    seams: list[int]
    markers: list[Marker]
