"""MusicGen on a GPU: our loop vs transformers' generate(), real-time factor, peak
memory and mood-change latency, for the musicgen-small and -medium architectures
(``--archs small,medium,large`` adds -large).

The GPU machines cannot download weights, so the models are built from their
configurations with random weights (speed does not depend on the weight values).
Guidance 3, top_k 250, bf16 token decoder. Finishes in a few minutes on one H100.

    python bench/gpu_musicgen.py            # on a GPU
    python bench/gpu_musicgen.py --archs large
    python bench/gpu_musicgen.py --tiny     # the same logic on a tiny model, on cpu
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from adaptive_music.models.base import Mood  # noqa: E402
from adaptive_music.models.musicgen import MusicgenModel, SamplingParams, measure_rtf  # noqa: E402
from adaptive_music.models.musicgen.loading import pick_device, pick_dtype, place  # noqa: E402

TEXT = "dark ambient dungeon"
ARCHS = {
    # name: (decoder layers, hidden, heads)
    "small": (24, 1024, 16),
    "medium": (48, 1536, 24),
    "large": (48, 2048, 32),
}


def build(arch: str, device: torch.device, dtype: torch.dtype, tokenizer_dir: Path) -> MusicgenModel:
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    from musicgen_tiny import build_tokenizer, tiny_config

    if arch == "tiny":
        config = tiny_config()
    else:
        from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, T5Config

        layers, hidden, heads = ARCHS[arch]
        config = MusicgenConfig(
            text_encoder=T5Config(d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12),
            audio_encoder=EncodecConfig(
                sampling_rate=32000, chunk_length_s=None, overlap=None, upsampling_ratios=[8, 5, 4, 4],
                codebook_size=2048, hidden_size=128, num_filters=64, num_lstm_layers=2,
                num_residual_layers=1, use_causal_conv=False, normalize=False, use_conv_shortcut=False,
                target_bandwidths=[2.2],
            ),
            decoder=MusicgenDecoderConfig(
                vocab_size=2048, num_codebooks=4, hidden_size=hidden, num_hidden_layers=layers,
                num_attention_heads=heads, ffn_dim=4 * hidden, max_position_embeddings=2048,
                pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048,
            ),
        )
    with torch.device(device):
        hf = MusicgenForConditionalGeneration(config)
    pad = config.decoder.pad_token_id
    for key in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
        setattr(hf.generation_config, key, pad)
    # generate() needs the text side in the decoder's dtype; EnCodec stays float32.
    place(hf, device, dtype)
    hf.text_encoder.to(dtype)
    build_tokenizer(tokenizer_dir)
    model = MusicgenModel(hf, AutoTokenizer.from_pretrained(tokenizer_dir))
    model.sampling = SamplingParams(guidance=3.0, top_k=250, temperature=1.0)
    return model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_times(model: MusicgenModel, frames: int) -> tuple[float, float]:
    """Seconds per step of generate() and of our loop, best of two interleaved rounds.
    generate()'s final EnCodec decode is replaced by a no-op so only tokens are timed.
    The untimed first round also pays any per-shape setup for these lengths (such as
    cuDNN's attention graphs); the RTF, whose window keeps growing, is what shows it."""
    hf, dev = model.hf, model.device
    decode = hf.audio_encoder.decode
    hf.audio_encoder.decode = lambda codes, *a, **k: types.SimpleNamespace(audio_values=torch.zeros(1, 1, 1))
    text = {k: v.to(dev) for k, v in model.decoder.tokenizer([TEXT], return_tensors="pt").items()}
    condition = model.condition(Mood(TEXT))
    steps = frames + model.max_delay

    def reference():
        hf.generate(**text, do_sample=True, top_k=250, guidance_scale=3.0, max_new_tokens=steps)

    def ours():
        model.generate(model.initial_state(), condition, frames, seed=0)

    best = [float("inf"), float("inf")]
    try:
        for timed in (False, True, True):
            for i, run in enumerate((reference, ours)):
                sync(dev)
                started = time.perf_counter()
                run()
                sync(dev)
                if timed:
                    best[i] = min(best[i], (time.perf_counter() - started) / steps)
    finally:
        hf.audio_encoder.decode = decode
    return best[0], best[1]


def mood_latency(model: MusicgenModel, seconds: float, changes: int) -> list[float]:
    """Seconds from a mood-change call to the moment its first changed sample is decoded.

    A producer loop generates and decodes hop after hop, as the engine does (free-running,
    so no playback buffer is included); a second thread changes the mood at random times.
    Each hop starts with the newest mood, so its first frame is the first changed one.
    """
    config = model.default_config()
    moods = [model.condition(Mood(t)) for t in ("calm forest night", "epic battle drums", TEXT)]
    current = {"condition": moods[0], "since": None}
    lock = threading.Lock()
    latencies: list[float] = []
    done = threading.Event()

    def changer() -> None:
        rng = random.Random(0)
        for i in range(changes):
            time.sleep(rng.uniform(0.3, seconds / changes))
            with lock:
                current["condition"] = moods[(i + 1) % len(moods)]
                current["since"] = time.perf_counter()
        done.set()

    state = model.initial_state(config)
    tokens, state = model.generate(state, moods[0], config.hop_frames, seed=0)  # warm-up
    thread = threading.Thread(target=changer)
    thread.start()
    hop = 0
    while not done.is_set() or current["since"] is not None:
        with lock:
            condition, since = current["condition"], current["since"]
            current["since"] = None
        if len(state.tokens) + config.hop_frames > config.window_frames:
            state = model.roll(state, config.context_frames)
        hop += 1
        tokens, after = model.generate(state, condition, config.hop_frames, seed=hop)
        model.decode(tokens, state)
        sync(model.device)
        state = after
        if since is not None:
            latencies.append(time.perf_counter() - since)
    thread.join()
    return latencies


def report(arch: str, device: torch.device, dtype: torch.dtype, args, tmp: Path) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model = build(arch, device, dtype, tmp / arch)
    print(f"[{arch}] built in {time.perf_counter() - started:.1f} s", flush=True)
    ref, ours = step_times(model, args.frames)
    print(
        f"[{arch}] guidance 3, {args.frames} frames: generate {ref * 1e3:.2f} ms/step, ours "
        f"{ours * 1e3:.2f} ms/step, speed-up {ref / ours:.2f}x", flush=True,
    )
    config = model.default_config()
    rtf = measure_rtf(model, config, seconds=args.rtf_seconds)
    print(f"[{arch}] RTF (generate + decode, {config.hop_seconds:g} s hops): {rtf:.2f}x real time", flush=True)
    if arch in ("tiny", "small"):
        lat = np.array(mood_latency(model, args.latency_seconds, args.changes))
        print(
            f"[{arch}] mood-change latency over {len(lat)} changes (compute only, add the playback "
            f"buffer): p50 {np.percentile(lat, 50):.3f} s, p95 {np.percentile(lat, 95):.3f} s, "
            f"max {lat.max():.3f} s", flush=True,
        )
    if device.type == "cuda":
        print(f"[{arch}] peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB", flush=True)
    del model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a tiny model on cpu, to check the script")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rtf-seconds", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=12.0)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--archs", default="small,medium", help=f"comma-separated, of {', '.join(ARCHS)}")
    args = parser.parse_args()
    import tempfile

    device = torch.device("cpu") if args.tiny else pick_device()
    dtype = torch.float32 if args.tiny else pick_dtype(device, torch.bfloat16)
    if device.type == "cuda":
        print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {dtype}", flush=True)
    else:
        print(f"{device}, torch {torch.__version__}, {dtype}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ["tiny"] if args.tiny else args.archs.split(","):
            report(arch, device, dtype, args, Path(tmp))


if __name__ == "__main__":
    main()
