"""``--preview``: a contact sheet of spectrograms of every loop and transition, with bar lines."""

from __future__ import annotations

import math
from pathlib import Path

from .files import read_audio


def contact_sheet(out: Path, manifest: dict, png: Path) -> None:
    """Draw every loop, then every transition, as a spectrogram with its bar lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [(f"loop {n}", m["loop"]["file"], [i * m["bar_samples"] for i in range(m["bars"] + 1)])
             for n, m in manifest["moods"].items()]
    items += [(f"{t['from']} -> {t['to']}", t["file"], t["bar_lines"]) for t in manifest["transitions"]]
    cols = 4
    rows = math.ceil(len(items) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 1.8 * rows), squeeze=False)
    for ax, (title, rel, bars) in zip(axes.flat, items):
        audio, rate = read_audio(out / rel)
        ax.specgram(audio.mean(axis=1), NFFT=1024, Fs=rate, noverlap=512, cmap="magma", vmin=-140)
        for b in bars:
            ax.axvline(b / rate, color="cyan", linewidth=0.6)
        ax.set_title(title, fontsize=7)
        ax.set_ylim(0, 8000)
        ax.tick_params(labelsize=5)
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
