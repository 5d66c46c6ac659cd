"""The MusicGen backend: the Model interface over our incremental decoding loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...config import StreamConfig
from ..base import Blend, GeneratorState, Marker, Mood, blend_weights
from .codec import decode_codes
from .decoder import UNCONDITIONAL, IncrementalDecoder, TextCondition
from .delay import apply_delay, codebook_delays, step_schedule
from .chroma import read_melody
from .errors import MusicgenLoadError
from .loading import load_checkpoint, pick_device, pick_dtype
from .melody import MAX_TEXT_TOKENS, MelodyDecoder
from .sampling import SamplingParams, guide, sample


def describe(mood: Mood) -> str:
    """The text prompt for a mood: its text, with the intensity spelled out at the extremes."""
    if mood.intensity <= 0.25:
        return f"{mood.text}, calm, sparse, soft"
    if mood.intensity >= 0.75:
        return f"{mood.text}, intense, energetic, driving"
    return mood.text


def describe_condition(condition: Any) -> str:
    """The prompt texts in ``condition`` (a condition or a blend), for messages."""
    if isinstance(condition, Blend):
        return f"{describe_condition(condition.source)} -> {describe_condition(condition.target)}"
    return getattr(condition, "text", str(condition))


def _known_prefix(column: np.ndarray) -> int:
    """Length of the run of known (non-negative) codes at the start of ``column``."""
    unknown = np.flatnonzero(column < 0)
    return int(unknown[0]) if unknown.size else int(column.size)


class MusicgenModel:
    """MusicGen through transformers, decoded by our own incremental loop.

    ``state.tokens`` holds the window's undelayed codes (frames, K); because of the
    delay pattern the loop has already sampled some codebooks of the next frames,
    which ``state.data["pending"]`` (max_delay, K) keeps (-1 where not yet sampled),
    so a window continues exactly as one long generation would. The KV cache stays in
    the model and belongs to the newest state it produced; any other state (rolled,
    deserialised, or an older one) is re-read by a prefill from its tokens.
    """

    name = "musicgen"

    def __init__(
        self,
        hf_model,
        tokenizer,
        *,
        sampling: SamplingParams | None = None,
        decode_context_frames: int = 50,
        melody: np.ndarray | None = None,
    ) -> None:
        cfg = hf_model.config
        self.melodic = hasattr(cfg, "chroma_length")
        """A MusicGen-melody checkpoint (conditioned by a prefix of chroma and text)."""
        if melody is not None and not self.melodic:
            raise ValueError("a melody needs a MusicGen-melody checkpoint (such as facebook/musicgen-melody)")
        self.hf = hf_model
        self.sampling = sampling or SamplingParams()
        self.decode_context_frames = decode_context_frames
        """Frames of left context decoded before new tokens (EnCodec is non-causal)."""
        self.sample_rate = int(cfg.audio_encoder.sampling_rate)
        self.frame_rate = float(cfg.audio_encoder.frame_rate)
        self.channels = int(cfg.decoder.audio_channels)
        self.num_codebooks = int(cfg.decoder.num_codebooks)
        self.delays = codebook_delays(self.num_codebooks, self.channels)
        self.max_delay = max(self.delays)
        start = hf_model.generation_config.decoder_start_token_id
        self.start_token = int(start if start is not None else cfg.decoder.bos_token_id)
        self.max_positions = int(cfg.decoder.max_position_embeddings)
        if self.melodic:
            self.decoder: IncrementalDecoder = MelodyDecoder(hf_model, tokenizer, melody)
            self.max_positions -= self.decoder.chroma_length + MAX_TEXT_TOKENS  # the prefix's
        else:
            self.decoder = IncrementalDecoder(hf_model, tokenizer)
        self.device = self.decoder.device
        self._owner: object | None = None  # cache stamp of the state the KV cache belongs to

    @classmethod
    def load(
        cls,
        model: str = "facebook/musicgen-small",
        device: str | None = None,
        dtype: torch.dtype | str | None = None,
        *,
        sampling: SamplingParams | None = None,
        melody: str | Path | None = None,
    ) -> "MusicgenModel":
        """Load a MusicGen checkpoint (hub id or save_pretrained folder).

        ``device`` defaults to cuda, then mps, then cpu; ``dtype`` to bf16/fp16 on a GPU
        and fp32 on cpu. ``melody``: an audio file whose theme (its chroma) conditions all
        the music; needs a MusicGen-melody checkpoint. Raises MusicgenLoadError with what
        is missing and how to get it, AudioPromptError for an unreadable melody.
        """
        chroma = None if melody is None else read_melody(melody)
        dev = pick_device(device)
        hf, tokenizer = load_checkpoint(model, dev, pick_dtype(dev, dtype))
        try:
            return cls(hf, tokenizer, sampling=sampling, melody=chroma)
        except ValueError as exc:
            raise MusicgenLoadError(f"{model}: {exc}") from None

    @property
    def samples_per_frame(self) -> int:
        return round(self.sample_rate / self.frame_rate)

    # -- Model interface ----------------------------------------------------

    def default_config(self) -> StreamConfig:
        """20 s windows (inside the 30 s MusicGen was trained on) rolled with 10 s of
        context, as audiocraft keeps; 0.5 s hops bound how long a mood change waits
        behind generation; 40 ms crossfades hide the codec seams."""
        return StreamConfig(
            sample_rate=self.sample_rate, frame_rate=self.frame_rate, window_seconds=20.0,
            context_seconds=10.0, hop_seconds=0.5, crossfade_seconds=0.04,
        )

    def condition(self, mood: Mood) -> TextCondition:
        return TextCondition(describe(mood))

    def initial_state(self, config: StreamConfig | None = None, seed: int = 0) -> GeneratorState:
        return self.initial_state_from_codes(np.zeros((0, self.num_codebooks), np.int64), frame=0)

    def initial_state_from_codes(self, codes: np.ndarray, frame: int | None = None) -> GeneratorState:
        """A state whose window is prompted with ``codes`` (frames, K), e.g. from
        :func:`encode_prompt_audio`; ``frame`` defaults to ``len(codes)``."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.ndim != 2 or codes.shape[1] != self.num_codebooks:
            raise ValueError(f"codes must have shape (frames, {self.num_codebooks}), got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.decoder.vocab_size):
            raise ValueError(f"codes must lie in [0, {self.decoder.vocab_size})")
        pending = np.full((self.max_delay, self.num_codebooks), -1, np.int64)
        return GeneratorState(
            tokens=codes, frame=len(codes) if frame is None else frame, data={"pending": pending}
        )

    def generate(
        self, state: GeneratorState, condition: Any, n_frames: int, seed: int
    ) -> tuple[np.ndarray, GeneratorState]:
        new_tokens, new_state, _ = self._run(state, condition, n_frames, seed, keep_logits=False)
        return new_tokens, new_state

    def step_logits(
        self, state: GeneratorState, condition: Any, n_frames: int, seed: int
    ) -> tuple[np.ndarray, GeneratorState, list[np.ndarray]]:
        """Like :meth:`generate`, also returning each step's guided logits (K, V)."""
        return self._run(state, condition, n_frames, seed, keep_logits=True)

    def decode(self, tokens: np.ndarray, state: GeneratorState) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, self.num_codebooks)
        if len(tokens) == 0:
            return np.zeros((0, self.channels), np.float32)
        context = np.asarray(state.tokens, np.int64).reshape(-1, self.num_codebooks)
        context = context[len(context) - min(len(context), self.decode_context_frames) :]
        audio = decode_codes(self.hf.audio_encoder, np.concatenate([context, tokens]), self.channels)
        start = len(context) * self.samples_per_frame
        return audio[start : start + len(tokens) * self.samples_per_frame]

    def roll(self, state: GeneratorState, keep_frames: int) -> GeneratorState:
        """Keep the last ``keep_frames`` frames (and the already-sampled parts of the
        next ones) as the prompt of a new window; the next generate re-reads them."""
        tokens = np.asarray(state.tokens, np.int64)
        keep = max(0, min(int(keep_frames), len(tokens)))
        return GeneratorState(tokens=tokens[len(tokens) - keep :], frame=state.frame, data=dict(state.data))

    def markers(self, tokens: np.ndarray, state: GeneratorState) -> Sequence[Marker]:
        return []

    def next_boundary(self, state: GeneratorState, unit: str) -> int | None:
        return None

    def effects(self) -> None:
        return None

    # -- decoding loop ------------------------------------------------------

    def _branches(self, condition: Any, frame: int) -> tuple[tuple, list[float]]:
        """Cache slots and guidance weights of ``condition`` at ``frame``."""
        pairs = blend_weights(condition, frame)
        keys, weights = [], []
        for cond, w in pairs:
            if isinstance(cond, Mood):
                cond = self.condition(cond)
            if not isinstance(cond, TextCondition):
                raise TypeError(f"musicgen conditions come from model.condition(Mood), got {cond!r}")
            keys.append(cond)
            weights.append(w)
        if self.sampling.unconditional:
            keys.insert(0, UNCONDITIONAL)
        return tuple(keys), weights

    @torch.inference_mode()
    def _run(self, state, condition, n_frames, seed, keep_logits):
        k_books, delays, top = self.num_codebooks, self.delays, self.max_delay
        if n_frames < 1:
            raise ValueError(f"n_frames must be at least 1, got {n_frames}")
        window = np.asarray(state.tokens, np.int64).reshape(-1, k_books)
        pending = np.asarray(state.data.get("pending", np.full((top, k_books), -1)), np.int64)
        if pending.shape != (top, k_books):
            raise ValueError(f"state pending codes must have shape {(top, k_books)}, got {pending.shape}")
        held = len(window)
        total = held + n_frames
        last_position = total - 1 + top
        if last_position + 1 > self.max_positions:
            raise ValueError(
                f"a window of {total} frames exceeds the model's {self.max_positions - top - 1}; roll first"
            )
        known = [held + _known_prefix(pending[:, k]) for k in range(k_books)]
        first = min(known[k] + delays[k] for k in range(k_books))

        # Rows of the code buffer: 0 is the pad row, frame f is row f + 1, the last row is scrap
        # for predictions of codes that are already known (prompt codes are kept, not resampled).
        scrap = total + top + 1
        codes = np.full((scrap + 1, k_books), -1, np.int64)
        codes[0] = self.start_token
        codes[1 : held + 1] = window
        codes[held + 1 : held + 1 + top] = pending
        steps = range(first, last_position + 1)
        read, write = step_schedule(steps, delays, known, scrap)
        dev = self.device
        buf = torch.as_tensor(codes, device=dev)
        read_t, write_t = torch.as_tensor(read, device=dev), torch.as_tensor(write, device=dev)
        books = torch.arange(k_books, device=dev)
        gen = torch.Generator(device=dev).manual_seed(self._stream_seed(seed, state.frame))

        logits_log: list[np.ndarray] = []
        finite = torch.ones((), dtype=torch.bool, device=dev)  # checked once per call: no per-step sync
        dec = self.decoder
        for s, p in enumerate(steps):
            slots, weights = self._branches(condition, state.frame - held + p - top)
            if s == 0 and not (self._owner is not None and state.cache.get("musicgen") is self._owner
                               and dec.length == first):
                dec.reset(slots, capacity=min(self.max_positions, last_position + 1 + 256))
                if first:
                    prompt = apply_delay(np.concatenate([window, pending]), delays, self.start_token)[:first]
                    dec.forward(torch.as_tensor(prompt.T, device=dev))
            dec.set_slots(slots)
            logits = guide(dec.forward(buf[read_t[s], books][:, None]), weights, self.sampling.guidance)
            finite &= torch.isfinite(logits).all()
            if keep_logits:
                logits_log.append(logits.cpu().numpy())
            buf[write_t[s], books] = sample(logits, self.sampling, gen)

        if not bool(finite):
            raise FloatingPointError(
                f"the decoder produced NaN or infinite logits for {describe_condition(condition)!r} "
                f"(damaged weights, or overflow in {self.decoder.dtype}: try float32)"
            )
        out = buf[1 : total + top + 1].cpu().numpy()
        self._owner = object()
        new_state = GeneratorState(
            tokens=out[:total], frame=state.frame + n_frames, data={**state.data, "pending": out[total:]},
            cache={"musicgen": self._owner},
        )
        return out[held:total], new_state, logits_log

    @staticmethod
    def _stream_seed(seed: int, frame: int) -> int:
        """A generator seed from the caller's seed and the stream position, so that
        successive calls with one seed draw different noise."""
        mixed = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, int(frame)])
        return int(mixed.generate_state(1, np.uint64)[0] >> np.uint64(1))
