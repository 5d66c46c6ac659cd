"""The embedded default backend: a procedural composer and synthesizer.

No weights, no GPU: tokens are musical events on a beat grid, composed
from the mood, and audio is rendered from them with wavetable voices,
synthesized drums and a feedback-delay-network reverb.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...config import StreamConfig
from ...mood.params import MoodParams
from ..base import Blend, GeneratorState, Marker, Mood, blend_weights
from .composer import Composer, Mix, initial_data
from .prefetch import Prefetcher
from .reverb import Reverb
from .soundfont import ENV_VAR, HOW_TO_GET_ONE, SampledVoices, SoundFontError, find_soundfont
from .synth import Synth
from .tokens import TRACK, TRACKS, Beat, pack_beat, pack_note, unpack_beat, with_offset

__all__ = ["ProceduralModel", "ProceduralCondition", "SoundFontError"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class ProceduralCondition:
    """A mood as the procedural backend sees it.

    Compared by identity: the engine makes one per mood and reuses it, and
    the composer looks conditions up thousands of times a minute.
    """

    text: str
    params: MoodParams
    intensity: float


class ProceduralModel:
    """Composer + synthesizer behind the :class:`~adaptive_music.models.base.Model` interface."""

    name = "procedural"
    frame_rate = 50.0
    channels = 2

    def __init__(self, sample_rate: int = 48000, channels: int = 2,
                 soundfont: str | os.PathLike | None = None):
        """``soundfont``: a General MIDI font file to play the notes with; ``"auto"`` looks
        for one (``$ADAPTIVE_MUSIC_SOUNDFONT``, then the usual system places) and falls back
        to the built-in synthesizer with a logged notice (:attr:`renderer_fallback`);
        ``None`` (the default; live playback and ``render`` ask for ``"auto"``) uses the font
        in ``$ADAPTIVE_MUSIC_SOUNDFONT`` when set, else the built-in synthesizer; ``"none"``
        always the built-in one."""
        self.sample_rate = sample_rate
        self.channels = channels
        self.spf = int(round(sample_rate / self.frame_rate))
        voices, self.renderer_notice, self._font_fallback = _voices(soundfont, sample_rate)
        self.renderer = "builtin" if voices is None else "sampled"
        """Which instruments play: ``"sampled"`` (a SoundFont) or ``"builtin"`` (the synthesizer)."""
        self.soundfont = None if voices is None else str(voices.path)
        self._synth = Synth(sample_rate, self.spf, channels, voices)
        # Sampled notes are slow to render cold: a thread renders them before they are heard.
        self._prefetch = None if voices is None else Prefetcher(self._synth.cache, sample_rate)

    @property
    def renderer_fallback(self) -> str | None:
        """Why the built-in synthesizer plays where a font was looked for: no usable font, or
        keys the font has no sample at, which it plays for the font (each logged when first
        met, and reported as a fallback in a Soundtrack's status); None when the font plays all."""
        stand_ins = self._synth.cache.stand_ins()
        if self._font_fallback or not stand_ins:
            return self._font_fallback
        keys = "; ".join(f"{name} at MIDI keys {', '.join(map(str, k))}" for name, k in stand_ins.items())
        return f"{Path(self.soundfont).name} has no sample for {keys}: the built-in voice plays those notes"

    def default_config(self) -> StreamConfig:
        # Context covers the longest note (a held bar at 60 bpm plus release),
        # so decoding a window never misses a note that still rings. A 40 ms hop
        # keeps live mood changes close to the playhead; offline renders use
        # longer hops, which give the same audio.
        return StreamConfig(sample_rate=self.sample_rate, frame_rate=self.frame_rate, window_seconds=16.0,
                            context_seconds=8.0, hop_seconds=0.04, crossfade_seconds=0.02,
                            channels=self.channels)

    def condition(self, mood: Mood) -> ProceduralCondition:
        from ...mood.text import parse_mood

        return ProceduralCondition(mood.text, parse_mood(mood.text), mood.intensity)

    def initial_state(self, config: StreamConfig, seed: int) -> GeneratorState:
        return GeneratorState(tokens=np.zeros((0, len(TRACKS)), np.int64), frame=0, data=initial_data(seed))

    def generate(self, state: GeneratorState, condition: Any, n_frames: int,
                 seed: int) -> tuple[np.ndarray, GeneratorState]:
        tokens = np.zeros((n_frames, len(TRACKS)), np.int64)
        first = state.frame * self.spf

        def emit(sample: int, track: int, event: Any) -> None:
            frame, offset = divmod(sample - first, self.spf)
            if tokens[frame, track]:
                return  # one onset per track per frame; the first wins
            code = pack_beat(event) if isinstance(event, Beat) else pack_note(event)
            tokens[frame, track] = with_offset(code, offset, isinstance(event, Beat))

        spf = self.spf  # not self: the prefetch thread keeps this function

        def mix_at(sample: float) -> Mix:
            return _mix_at(condition, sample / spf)

        data = Composer(self.sample_rate, seed).compose(dict(state.data), mix_at,
                                                        (state.frame + n_frames) * self.spf, emit)
        data["bpm"] = mix_at(data["next_sample"]).p.tempo
        if self._prefetch is not None:
            self._prefetch.follow(data, condition, mix_at, seed)
        new = state.replace(tokens=np.concatenate([state.tokens, tokens]), frame=state.frame + n_frames,
                            data=data)
        return tokens, new

    def decode(self, tokens: np.ndarray, state: GeneratorState) -> np.ndarray:
        span = np.concatenate([state.tokens, tokens])
        return self._synth.render(span, state.frame - len(state.tokens), state.frame)

    def roll(self, state: GeneratorState, keep_frames: int) -> GeneratorState:
        return state.replace(tokens=state.tokens[len(state.tokens) - keep_frames :])

    def markers(self, tokens: np.ndarray, state: GeneratorState) -> Sequence[Marker]:
        out = []
        for row in np.flatnonzero(tokens[:, TRACK["control"]]):
            b = unpack_beat(int(tokens[row, TRACK["control"]]))
            sample = (state.frame + int(row)) * self.spf + b.offset
            out.append(Marker(sample, b.bar, b.beat, b.beats_per_bar, b.bpm, b.root, b.scale))
        return out

    def next_boundary(self, state: GeneratorState, unit: str) -> int | None:
        d = state.data
        if "bpm" not in d:
            return 0 if state.frame == 0 else None
        step, steps_per_bar = d["step"], 4 * d["beats_per_bar"]
        if unit == "beat":
            ahead = (-step) % 4
        elif unit == "bar":
            ahead = (-step) % steps_per_bar
        else:
            raise ValueError(f"unknown boundary unit {unit!r}")
        step_len = 60.0 / d["bpm"] / 4.0 * self.sample_rate
        return int(d["next_sample"] + ahead * step_len)

    def effects(self) -> Reverb:
        return Reverb(self.sample_rate, self.spf, self.channels, _space)


def _voices(soundfont: str | os.PathLike | None,
            sample_rate: int) -> tuple[SampledVoices | None, str, str | None]:
    """The sampled voices to use, or None; a one-line notice saying which renderer plays and
    why; and why the built-in synthesizer plays instead of a font, when it is a fallback."""
    if soundfont in (None, "auto") and os.environ.get(ENV_VAR, "").lower() in ("none", "builtin"):
        soundfont = "none"  # the variable can switch sampled instruments off everywhere
    if soundfont is None and not os.environ.get(ENV_VAR):
        return None, "built-in synthesizer (no SoundFont asked for)", None
    if soundfont is not None and str(soundfont).lower() in ("none", "builtin"):
        return None, "built-in synthesizer (asked for)", None
    named = soundfont not in (None, "auto")
    path = find_soundfont(soundfont if named else None)  # raises for a named font that is missing
    if path is None:
        notice = f"no SoundFont found, playing the built-in synthesizer; for sampled instruments, {HOW_TO_GET_ONE}"
        log.warning(notice)
        return None, notice, notice
    try:
        return SampledVoices(path, sample_rate), f"sampled instruments from {path}", None
    except SoundFontError as exc:
        if named or os.environ.get(ENV_VAR):
            raise  # a font the caller named must work
        notice = f"SoundFont {path} unusable, playing the built-in synthesizer: {exc}"
        log.warning(notice)
        return None, notice, notice


@functools.lru_cache(maxsize=256)
def _mix(parts: tuple[tuple[Any, float], ...]) -> Mix:
    return Mix(list(parts))


def _mix_at(condition: Any, frame: float) -> Mix:
    """The mood in force at a (fractional) frame."""
    if not isinstance(condition, Blend):
        return _mix(((condition, 1.0),))
    return _mix(tuple(blend_weights(condition, frame)))


def _space(condition: Any, frame: float) -> tuple[float, float, float]:
    """(level, reverb wet, decay seconds) for the mood at a frame.

    Calm is quieter and spacious; action is louder (about 10 dB between the
    extremes, before mastering) and drier.
    """
    mix = _mix_at(condition, frame)
    level = 10 ** ((3.0 + 10.0 * (mix.energy - 0.5)) / 20)
    wet = 0.1 + 0.25 * (1.0 - mix.energy)
    t60 = 1.2 + 2.4 * (1.0 - mix.p.arousal)
    return level, wet, t60
