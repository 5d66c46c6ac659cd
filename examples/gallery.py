"""A listening gallery: a dozen contrasting moods, with both renderers, to OGG, plus one
contact sheet of their spectrograms.

    python examples/gallery.py [OUT_DIR] [--seconds 30] [--soundfont PATH]

Needs soundfile (OGG) and matplotlib (the PNG). Without a SoundFont only the built-in
synthesizer's files are made (and the notice says how to get a font).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adaptive_music import load_backend, render

MOODS = (
    "calm forest at dawn, soft strings", "sad solo piano", "acoustic guitar by the campfire",
    "epic choir chanting", "fast techno drums", "gentle flute melody", "harp lullaby",
    "happy folk tavern dance", "intense orchestral boss battle", "melancholy string quartet",
    "chiptune adventure", "eerie horror dungeon",
)


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile

    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", type=Path, default=Path("gallery"))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--soundfont", default="auto")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models = {"builtin": load_backend("procedural", soundfont="none")}
    sampled = load_backend("procedural", soundfont=args.soundfont)
    if sampled.renderer == "sampled":
        models["sampled"] = sampled
    else:
        print(sampled.renderer_notice)
    fig, axes = plt.subplots(len(MOODS), len(models), figsize=(6 * len(models), 1.6 * len(MOODS)),
                             squeeze=False, sharex=True)
    for row, text in enumerate(MOODS):
        for col, (name, model) in enumerate(models.items()):
            audio = render(model, text, args.seconds, seed=3).audio
            path = args.out / f"{row:02d}-{text.split(',')[0].replace(' ', '-')}-{name}.ogg"
            soundfile.write(path, audio, model.sample_rate, format="OGG", subtype="VORBIS")
            ax = axes[row, col]
            ax.specgram(audio.mean(axis=1), NFFT=2048, Fs=model.sample_rate, noverlap=1024, cmap="magma",
                        vmin=-120, vmax=-20)
            ax.set_ylim(0, 8000)
            ax.set_title(f"{text} ({name})", fontsize=8)
            ax.tick_params(labelsize=6)
            print(f"wrote {path}")
    fig.tight_layout()
    fig.savefig(args.out / "contact-sheet.png", dpi=80)
    print(f"wrote {args.out / 'contact-sheet.png'}")
    plt.close(fig)


if __name__ == "__main__":
    main()
