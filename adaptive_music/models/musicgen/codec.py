"""EnCodec between codes and audio: decoding with left context, encoding audio prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import AudioPromptError


@torch.no_grad()
def decode_codes(audio_encoder, codes: np.ndarray, channels: int) -> np.ndarray:
    """Audio for undelayed ``codes`` (frames, K): float32 (frames * hop, channels).

    Stereo checkpoints interleave codebooks (left, right, left, ...); each channel is
    decoded on its own, as transformers does.
    """
    device = next(audio_encoder.parameters()).device
    books = torch.as_tensor(np.ascontiguousarray(codes.T), device=device)  # (K, frames)
    groups = [books[c::channels] for c in range(channels)]
    audio = [
        audio_encoder.decode(g[None, None], [None]).audio_values[0, 0].float().cpu().numpy() for g in groups
    ]
    return np.stack(audio, axis=1).astype(np.float32, copy=False)


@torch.no_grad()
def encode_audio(audio_encoder, audio: np.ndarray, channels: int) -> np.ndarray:
    """Codes (frames, K) for ``audio`` (samples, channels) at the codec's sample rate."""
    device = next(audio_encoder.parameters()).device
    per_channel = []
    for c in range(channels):
        x = torch.as_tensor(np.ascontiguousarray(audio[:, c]), device=device, dtype=torch.float32)
        per_channel.append(audio_encoder.encode(x[None, None]).audio_codes[0, 0])  # (books, frames)
    books = torch.stack(per_channel, dim=1).reshape(-1, per_channel[0].shape[-1])  # interleaved
    return books.T.cpu().numpy().astype(np.int64)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling of (samples, channels) float32, with the engine's resampler."""
    if rate == target:
        return audio
    from ...engine.resample import StreamResampler

    rs = StreamResampler(rate, target, audio.shape[1])
    return np.concatenate([rs.process(audio.astype(np.float32, copy=False)), rs.flush()])


def read_audio(path: str | Path, sample_rate: int, channels: int, max_seconds: float, *,
               keep: str = "end", what: str = "audio prompt") -> np.ndarray:
    """Read an audio file as float32 (samples, channels) at ``sample_rate``, keeping its
    last (``keep="end"``) or first (``"start"``) ``max_seconds``. Raises AudioPromptError,
    naming the file as ``what``, for unreadable or empty files."""
    import soundfile

    path = Path(path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioPromptError(f"cannot read {what} {path}: {exc}") from None
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise AudioPromptError(f"{what} {path} holds no audio")
    if not np.isfinite(audio).all():
        raise AudioPromptError(f"{what} {path} holds NaN or infinite samples")
    samples = int(round(max_seconds * rate))
    if samples <= 0:
        raise AudioPromptError(f"{what} length limit must be positive, got {max_seconds} s")
    audio = audio[-samples:] if keep == "end" else audio[:samples]
    if channels == 1:
        audio = audio.mean(axis=1, keepdims=True)
    elif audio.shape[1] == 1:
        audio = np.repeat(audio, 2, axis=1)
    else:
        audio = audio[:, :2]
    return resample(audio, rate, sample_rate)


def encode_prompt_audio(model, path: str | Path, max_seconds: float) -> np.ndarray:
    """Codes (frames, K) of the last ``max_seconds`` of an audio file, for
    ``model.initial_state_from_codes``: read (WAV/OGG/FLAC/Opus), mixed to the model's
    channels, resampled to its rate, trimmed to whole frames, EnCodec-encoded."""
    audio = read_audio(path, model.sample_rate, model.channels, max_seconds)
    hop = model.samples_per_frame
    frames = min(len(audio) // hop, int(max_seconds * model.frame_rate + 1e-9))
    if frames < 1:
        raise AudioPromptError(f"audio prompt {path} is shorter than one frame ({hop} samples at {model.sample_rate} Hz)")
    return encode_audio(model.hf.audio_encoder, audio[len(audio) - frames * hop :], model.channels)
