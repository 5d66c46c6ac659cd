"""Stems from MusicGen: loops chosen in a longer generation, transitions by continuation.

MusicGen has no bar grid of its own. A mood's tempo is read from its text
(as the procedural backend reads it, nudged so a sixteenth is whole
samples), asked for in the prompt, and the meter is 4/4. Each mood is
generated longer than its loop; the loop is the ``bars`` whole bars that
start on a bar line of the grid placed on the generation's strongest onsets
and whose end sounds most like its start, with the music after its end
crossfaded into its start (:mod:`.loop_points`). A transition A -> B
continues A's codes from the codec frame nearest A's loop end (within half a
frame of the bar line) under B's prompt, so it starts where A's loop leaves
off, and crossfades into the end of B's loop, so the step into B is B's own
wrap. A stinger continues a mood's codes the same way under the stinger's
words and the mood's prompt, so it keeps the mood's key and sound without
naming them, and decays over one bar: it is mixed over the music.

What a MusicGen build cannot have is said in its manifest (``render.lacks``).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..engine.master import soft_limit
from ..engine.seams import stitch
from ..engine.stream import to_channels
from ..models.base import Mood
from ..mood.text import parse_mood
from .loop_points import LoopChoice, after_loop, cut_loop, find_loop
from .render import master_gain
from .score import quantized_tempo
from .transitions import seam_into_loop, transition_samples

BEATS_PER_BAR = 4
LOOP_CROSSFADE_SECONDS = 0.2
ENTRY_CROSSFADE_SECONDS = 0.01
SEARCH_BARS = 4
"""Bar lines the loop may start on, after one bar of warm-up."""
DECODE_LEAD_FRAMES = 2
"""A's frames decoded before a transition's continuation, so the resampler's edge falls before the bar line."""
STINGER_BARS = 1
STINGER_ATTACK_SECONDS = 0.005
STINGER_DECAY_DB = -60.0
"""Where a stinger's envelope ends, at its last sample."""

LACKS = {
    "layers": "MusicGen makes one mixed signal whose instruments can't be separated: moods have no layers; "
              "the loop is the full mix and players play it as one layer at every intensity",
    "midi": "MusicGen makes audio, not notes: no score to write as MIDI",
    "key": "MusicGen's key is not known: each mood's key is null (its stingers keep it by continuing its music)",
    "exact_tempo": "MusicGen is asked for the mood's tempo in its prompt but need not keep it: the bar lines are "
                   "the manifest's grid, placed on the generation's strongest onsets",
}
"""What a MusicGen build lacks that a procedural one has, and why (written to the manifest)."""


@functools.lru_cache(maxsize=2)
def load_model(model: str, melody: str | None = None):
    """The MusicGen backend for ``model`` (hub id or save_pretrained folder), once per process."""
    from ..models.musicgen import MusicgenModel

    return MusicgenModel.load(model, melody=melody)


def prompt_text(text: str, bpm: float) -> str:
    return f"{text}, {round(bpm)} bpm"


@dataclasses.dataclass(frozen=True)
class MusicgenParts:
    """What transitions need from one mood's MusicGen render."""

    name: str
    prompt: str
    bpm: float
    beats_per_bar: int
    bar_samples: int
    gain: float
    codes: np.ndarray
    """The generation's codes up to the codec frame nearest the loop's end (the last context window's worth)."""
    continuation_at: int
    """Samples from the loop's end to that frame's start (at most half a frame either way)."""
    after: np.ndarray
    """The generated audio just after the loop's end (before the master gain)."""
    loop_tail: np.ndarray
    """The last samples of the mastered loop, for the crossfade into it."""


@dataclasses.dataclass(frozen=True)
class MusicgenMood:
    loop: np.ndarray
    """The loop, before the master gain."""
    gain: float
    bpm: float
    bar_samples: int
    choice: LoopChoice
    generated_samples: int
    parts: MusicgenParts


def generate_codes(model, text: str, intensity: float, frames: int, seed: int,
                   prompt: np.ndarray | None = None) -> np.ndarray:
    """``frames`` codec frames of ``text``, continuing the codes ``prompt`` when given;
    windows roll with the backend's own context, as the streaming engine's do."""
    cfg = model.default_config()
    state = model.initial_state(cfg, seed) if prompt is None else model.initial_state_from_codes(prompt)
    condition = model.condition(Mood(text, intensity))
    chunk = cfg.window_frames - cfg.context_frames
    parts, done = [], 0
    while done < frames:
        n = min(chunk, frames - done)
        if len(state.tokens) + n > cfg.window_frames:
            state = model.roll(state, cfg.context_frames)
        tokens, state = model.generate(state, condition, n, seed)
        parts.append(tokens)
        done += n
    return np.concatenate(parts)


def decode(model, codes: np.ndarray, context: np.ndarray, sample_rate: int) -> np.ndarray:
    """Stereo audio at ``sample_rate`` of ``codes`` decoded after the codes ``context``."""
    from ..models.musicgen.codec import resample

    audio = model.decode(codes, model.initial_state_from_codes(context))
    return to_channels(resample(audio, model.sample_rate, sample_rate), 2)


def _frame_samples(model, sample_rate: int) -> float:
    return sample_rate / model.frame_rate


def compose_mood(model, name: str, text: str, *, bars: int, seed: int, intensity: float,
                 sample_rate: int) -> MusicgenMood:
    """Generate mood ``text`` longer than its loop and choose the loop in it."""
    bpm, step = quantized_tempo(parse_mood(text).tempo, sample_rate)
    bar = 4 * BEATS_PER_BAR * step
    length = bars * bar
    crossfade = round(LOOP_CROSSFADE_SECONDS * sample_rate)
    earliest = max(bar, crossfade)
    frame = _frame_samples(model, sample_rate)
    frames = math.ceil((earliest + SEARCH_BARS * bar + length + after_loop(bar, crossfade)) / frame) + 1
    prompt = prompt_text(text, bpm)
    codes = generate_codes(model, prompt, intensity, frames, seed)
    audio = decode(model, codes, codes[:0], sample_rate)
    choice = find_loop(audio, sample_rate, bar, length, crossfade, earliest)
    loop = cut_loop(audio, choice.start, length, crossfade)
    gain = master_gain(loop, sample_rate, [float(np.abs(loop).max())])
    end = choice.start + length
    continue_frame = round(end / frame)
    context = model.default_config().context_frames
    tail = round(ENTRY_CROSSFADE_SECONDS * sample_rate)
    parts = MusicgenParts(
        name=name, prompt=prompt, bpm=bpm, beats_per_bar=BEATS_PER_BAR, bar_samples=bar, gain=gain,
        codes=codes[max(0, continue_frame - context) : continue_frame],
        continuation_at=round(continue_frame * frame) - end,
        after=np.ascontiguousarray(audio[end : end + tail]),
        loop_tail=np.ascontiguousarray(loop[-tail:] * np.float32(gain)))
    return MusicgenMood(loop, gain, bpm, bar, choice, len(audio), parts)


def continuation(model, a: MusicgenParts, prompt: str, n: int, *, seed: int, intensity: float,
                 sample_rate: int) -> np.ndarray:
    """``n`` samples of A's generation continued from its loop's end under ``prompt``, before any gain,
    the first of them faded from what A really played there."""
    frame = _frame_samples(model, sample_rate)
    lead = DECODE_LEAD_FRAMES
    new = generate_codes(model, prompt, intensity, math.ceil((n - a.continuation_at) / frame) + 1, seed,
                         prompt=a.codes)
    piece = decode(model, np.concatenate([a.codes[-lead:], new]), a.codes[:-lead], sample_rate)
    first = round(lead * frame) - a.continuation_at  # A's loop end in ``piece``
    out = np.array(piece[first : first + n], np.float32)
    if len(out) != n:
        raise ValueError(f"the continuation holds {len(piece) - first} samples, {n} are needed")
    # The codes before the continuation decode (almost) as A's did: fade from what A really played.
    k = len(a.after)
    out[:k] = stitch(a.after, out[:k])
    return out


def musicgen_transition(model, a: MusicgenParts, b: MusicgenParts, bars: int, *, seed: int, intensity: float,
                        sample_rate: int) -> np.ndarray:
    """The mastered A -> B transition: A's generation continued from its loop's end under B's prompt,
    ``bars`` bars long, the gain moving from A's to B's, crossfaded into the end of B's loop."""
    n, _ = transition_samples(a, b, bars)
    out = continuation(model, a, b.prompt, n, seed=seed, intensity=intensity, sample_rate=sample_rate)
    out *= np.linspace(a.gain, b.gain, n, dtype=np.float32)[:, None]
    # New music may peak above the loops' masters: limit only those peaks, not the level at the seams.
    return seam_into_loop(soft_limit(out), b.loop_tail)


def musicgen_stinger(model, mood: MusicgenParts, text: str, *, seed: int, intensity: float,
                     sample_rate: int) -> np.ndarray:
    """The mastered stinger ``text`` of ``mood``: the mood's generation continued from its loop's end
    under the stinger's words and the mood's prompt, ``STINGER_BARS`` long, rising in a few
    milliseconds and decaying to ``STINGER_DECAY_DB`` at its end, at the mood's gain."""
    n = STINGER_BARS * mood.bar_samples
    out = continuation(model, mood, f"{text}, {mood.prompt}", n, seed=seed, intensity=intensity,
                       sample_rate=sample_rate)
    attack = round(STINGER_ATTACK_SECONDS * sample_rate)
    envelope = np.power(10.0, STINGER_DECAY_DB / 20 * np.arange(n) / (n - 1)).astype(np.float32)
    envelope[:attack] *= np.linspace(0, 1, attack, endpoint=False, dtype=np.float32)
    return soft_limit(out * (mood.gain * envelope)[:, None])


__all__ = ["LACKS", "MusicgenMood", "MusicgenParts", "compose_mood", "continuation", "generate_codes", "load_model",
           "musicgen_stinger", "musicgen_transition"]
