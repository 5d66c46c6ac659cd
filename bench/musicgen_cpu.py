"""Per-step decoding speed: our incremental loop vs transformers' generate(), same model.

Both sample with guidance 3 (and 1), top_k 250, temperature 1, from the same text, for
the same number of frames, on random weights (no weights can be downloaded here). The
EnCodec decode that generate() always runs at the end is replaced by a no-op so that
only token decoding is timed. Each side gets an untimed warm-up run, then the two
alternate and the best round of each is reported (this CPU is shared and noisy).

    python bench/musicgen_cpu.py            # tiny model and the musicgen-small architecture
    python bench/musicgen_cpu.py --tiny     # tiny model only (seconds)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from adaptive_music.models.base import Mood  # noqa: E402
from adaptive_music.models.musicgen import MusicgenModel, SamplingParams  # noqa: E402

TEXT = "dark ambient dungeon"


def small_parts():
    """musicgen-small's T5-base and EnCodec 32 kHz configs, and its decoder's settings."""
    from transformers import EncodecConfig, T5Config

    text = T5Config(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, vocab_size=32128)
    audio = EncodecConfig(
        sampling_rate=32000, audio_channels=1, chunk_length_s=None, overlap=None,
        upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, hidden_size=128, num_filters=64,
        num_lstm_layers=2, num_residual_layers=1, use_causal_conv=False, normalize=False,
        norm_type="weight_norm", use_conv_shortcut=False, target_bandwidths=[2.2],
    )
    decoder = dict(
        vocab_size=2048, num_codebooks=4, hidden_size=1024, num_hidden_layers=24,
        num_attention_heads=16, ffn_dim=4096, max_position_embeddings=2048,
        pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048,
    )
    return text, audio, decoder


def save_checkpoint(model, folder: Path) -> Path:
    """Save a MusicGen model built from a config, with its special tokens and a tokenizer."""
    from musicgen_tiny import build_tokenizer

    for key in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
        setattr(model.generation_config, key, 2048)
    model.save_pretrained(folder)
    build_tokenizer(folder)
    return folder


def small_checkpoint(folder: Path) -> Path:
    """musicgen-small's architecture (T5-base, EnCodec 32 kHz, 24-layer decoder), random weights."""
    from transformers import MusicgenConfig, MusicgenDecoderConfig, MusicgenForConditionalGeneration

    text, audio, decoder = small_parts()
    config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=MusicgenDecoderConfig(**decoder))
    return save_checkpoint(MusicgenForConditionalGeneration(config), folder)


def generate_runner(model: MusicgenModel, frames: int, guidance: float):
    """A function running transformers' generate() for ``frames`` frames; returns its steps."""
    hf = model.hf
    hf.audio_encoder.decode = lambda codes, *a, **k: types.SimpleNamespace(audio_values=torch.zeros(1, 1, 1))
    text = model.decoder.tokenizer([TEXT], return_tensors="pt")
    steps = frames + model.max_delay

    def run() -> int:
        hf.generate(**text, do_sample=True, top_k=250, guidance_scale=guidance, max_new_tokens=steps)
        return steps

    return run


def ours_runner(model: MusicgenModel, frames: int, guidance: float):
    """A function running our loop for ``frames`` frames from an empty window; returns its steps."""
    model.sampling = SamplingParams(guidance=guidance, top_k=250, temperature=1.0)
    condition = model.condition(Mood(TEXT))

    def run() -> int:
        model.generate(model.initial_state(), condition, frames, seed=0)
        return frames + model.max_delay

    return run


def per_step(runners, rounds: int) -> list[float]:
    """Best seconds per step of each runner over ``rounds`` interleaved rounds.

    The runners alternate so that load from other processes hits both alike; the
    minimum is the least disturbed run."""
    best = [float("inf")] * len(runners)
    for run in runners:  # warm-up
        run()
    for _ in range(rounds):
        for i, run in enumerate(runners):
            started = time.perf_counter()
            steps = run()
            best[i] = min(best[i], (time.perf_counter() - started) / steps)
    return best


def compare(label: str, folder: Path, frames: int, rounds: int) -> None:
    model = MusicgenModel.load(str(folder), device="cpu")
    for guidance in (3.0, 1.0):
        runners = [generate_runner(model, frames, guidance), ours_runner(model, frames, guidance)]
        ref, ours = per_step(runners, rounds)
        print(
            f"{label:10s} guidance {guidance:g}, {frames} frames x {rounds} rounds:  generate "
            f"{ref * 1e3:8.2f} ms/step   ours {ours * 1e3:8.2f} ms/step   speed-up {ref / ours:5.2f}x   "
            f"ours RTF {1 / (ours * model.frame_rate):.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="only the tiny model")
    parser.add_argument("--frames", type=int, default=100, help="frames per run (small)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timed rounds")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    from musicgen_tiny import build_tiny_musicgen

    with tempfile.TemporaryDirectory() as tmp:
        compare("tiny", build_tiny_musicgen(Path(tmp) / "tiny"), 250, 4)
        if not args.tiny:
            compare("small-arch", small_checkpoint(Path(tmp) / "small"), args.frames, args.rounds)


if __name__ == "__main__":
    main()
