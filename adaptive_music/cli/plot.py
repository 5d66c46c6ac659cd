"""Draw a render: waveform and spectrogram, with the mood timeline marked."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import UsageError


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'adaptive-music[plot]'") from None


def plot_render(path: Path, result, first_mood: str, changes: Sequence) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = result.sample_rate
    mono = result.audio.mean(axis=1)
    seconds = len(mono) / sr
    fig, (ax_wave, ax_spec) = plt.subplots(2, 1, figsize=(12, 6), sharex=True,
                                           gridspec_kw={"height_ratios": [1, 2]})
    step = max(1, len(mono) // 4000)
    env = np.abs(mono[: len(mono) // step * step]).reshape(-1, step).max(axis=1)
    t_env = np.arange(len(env)) * step / sr
    ax_wave.fill_between(t_env, -env, env, color="#3b6ea8", linewidth=0)
    ax_wave.set_ylim(-1, 1)
    ax_wave.set_ylabel("amplitude")

    n_fft, hop = 2048, 1024
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    spec = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)).T + 1e-6)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    keep = freqs <= 12000
    ax_spec.imshow(spec[keep], origin="lower", aspect="auto", cmap="magma", vmin=spec.max() - 90,
                   extent=(0, len(frames) * hop / sr, 0, freqs[keep][-1] / 1000))
    ax_spec.set_ylabel("kHz")
    ax_spec.set_xlabel("seconds")

    marks = [(0.0, first_mood)] + [(c.at, c.text) for c in changes if c.text]
    for at, text in marks:
        for ax in (ax_wave, ax_spec):
            ax.axvline(at, color="#e0e040", linewidth=1.2)
        ax_wave.annotate(text, (at, 1.0), xytext=(4, -4), textcoords="offset points", va="top", fontsize=9,
                         bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8})
    ax_wave.set_xlim(0, seconds)
    ax_wave.set_title("adaptive-music render")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
