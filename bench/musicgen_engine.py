"""MusicGen through the whole engine vs the decoding loop alone, per checkpoint family.

For each family at the musicgen-small shape (24 layers, hidden 1024, T5-base, EnCodec
32 kHz; random weights, as no weights can be downloaded here), three paths, each in a
fresh process so that its peak RSS is its own:

- loop: our decoding loop generating hop after hop (0.5 s) and EnCodec decoding each;
- render: ``engine.stream.render`` (1 s hops, crossfades, resampling to 48 kHz stereo,
  levelling), as ``adaptive-music render`` runs it;
- play: a :class:`Soundtrack` into the clocked file sink, pre-buffered as warm-up does
  for a backend slower than real time, then played in real time.

Reported: real-time factor (seconds of music per second of work; above 1 keeps up),
time to first audio (loop: the first hop; render: the first 1 s hop; play: until the
sink starts playing), and peak RSS. Guidance 3, top-k 250, as the published models.

    python bench/musicgen_engine.py                 # mono and melody, 2 s each
    python bench/musicgen_engine.py --seconds 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

MOOD = "dark ambient dungeon"
PATHS = ("loop", "render", "play")


def melody_checkpoint(folder: Path) -> Path:
    """musicgen-melody's structure (prefix conditioning, 12-bin chroma, 235 chroma frames)
    at musicgen-small's width: the published 1.5B-parameter melody decoder (48 layers,
    hidden 1536) does not fit beside seven other jobs in 24 GiB at float32 with room to
    spare, and would take minutes per second of music on this CPU."""
    from transformers import MusicgenMelodyConfig, MusicgenMelodyDecoderConfig, MusicgenMelodyForConditionalGeneration

    from musicgen_cpu import save_checkpoint, small_parts

    text, audio, decoder = small_parts()
    config = MusicgenMelodyConfig(text_encoder=text, audio_encoder=audio, decoder=MusicgenMelodyDecoderConfig(**decoder),
                                  num_chroma=12, chroma_length=235)
    return save_checkpoint(MusicgenMelodyForConditionalGeneration(config), folder)


def theme() -> str | None:
    try:
        import immich_memories_music
    except ImportError:
        return None
    return str(Path(immich_memories_music.__file__).parent / "tracks" / "happy" / "happy_acoustic_1.opus")


def measure(path: str, checkpoint: str, melody: str | None, seconds: float) -> dict:
    """One path's figures, in this process."""
    from adaptive_music.engine.stream import render
    from adaptive_music.models.base import Mood
    from adaptive_music.models.musicgen import MusicgenModel, SamplingParams

    model = MusicgenModel.load(checkpoint, device="cpu", sampling=SamplingParams(guidance=3.0, top_k=250),
                               melody=melody)
    started = time.perf_counter()
    first = None
    if path == "loop":
        config = model.default_config()
        state, condition = model.initial_state(), model.condition(Mood(MOOD))
        for _ in range(round(seconds / config.hop_seconds)):
            tokens, after = model.generate(state, condition, config.hop_frames, seed=0)
            model.decode(tokens, state)
            state = after
            first = first or time.perf_counter() - started
    elif path == "render":
        firsts = []
        render(model, MOOD, seconds, progress=lambda _: firsts.append(time.perf_counter() - started))
        first = firsts[0]
    else:
        from adaptive_music.playback.device import ClockedFileSink
        from adaptive_music.playback.soundtrack import Soundtrack

        music = Soundtrack(backend=model, mood=MOOD, sink=ClockedFileSink(None), seconds=seconds,
                           ahead=seconds)
        with music:
            first = time.perf_counter() - started  # the whole piece was pre-buffered
            music.wait(seconds + 30)
            status = music.status()
        if status["underruns"] or status["error"] or status["backend"] != "musicgen":
            raise RuntimeError(f"play did not play musicgen cleanly: {status}")
        return {"rtf": seconds / first, "first": first, "rss_gb": _rss_gb()}
    took = time.perf_counter() - started
    return {"rtf": seconds / took, "first": first, "rss_gb": _rss_gb()}


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="music per path (default 2)")
    parser.add_argument("--measure", nargs=3, metavar=("PATH", "CHECKPOINT", "MELODY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        path, checkpoint, melody = args.measure
        print(json.dumps(measure(path, checkpoint, None if melody == "-" else melody, args.seconds)))
        return
    import torch

    from musicgen_cpu import small_checkpoint

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s of music per path")
    families = [("mono (small)", small_checkpoint, None)]
    if theme() is not None:
        families.append(("melody (small width)", melody_checkpoint, theme()))
    for label, build, melody in families:
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = build(Path(tmp) / "checkpoint")
            loop = None
            for path in PATHS:  # each printed as it is measured: a slow machine may not finish
                out = subprocess.run(
                    [sys.executable, __file__, "--seconds", str(args.seconds), "--measure", path, str(checkpoint),
                     melody or "-"], capture_output=True, text=True, check=True)
                f = json.loads(out.stdout.strip().splitlines()[-1])
                loop = loop or f["rtf"]
                print(f"{label:22s} {path:6s}  RTF {f['rtf']:.3f} ({f['rtf'] / loop:4.2f}x the loop's)  "
                      f"first audio {f['first']:6.2f} s  peak RSS {f['rss_gb']:.2f} GB", flush=True)


if __name__ == "__main__":
    main()
