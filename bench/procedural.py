"""Procedural backend figures (issue: streaming engine + procedural backend).

Prints, measured in this run:
- render speed in audio seconds per wall second on ONE core (pinned), for the
  README's 40 s timeline from a cold start and for a 5-minute, 5-mood timeline;
- peak resident memory of the whole process;
- the worst seam jump against the 99.9th percentile of jumps inside windows;
- peak level and integrated loudness against the -16 LUFS target;
- calm vs intense: onset rate, RMS and spectral centroid ratios;
- tempo steadiness within a mood (beat-interval spread).

    python bench/procedural.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # the last core: the first takes more interrupts

import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from adaptive_music import Mood, MoodChange, load_backend, render  # noqa: E402
from adaptive_music.audio import measures as M  # noqa: E402

SR = 48000


def timed(model, mood, seconds, changes=(), config=None, seed=7):
    start, cpu = time.perf_counter(), time.process_time()
    r = render(model, mood, seconds, seed=seed, changes=changes, config=config)
    return r, seconds / (time.perf_counter() - start), seconds / (time.process_time() - cpu)


def main() -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, pinned to 1 core; "
          f"python {platform.python_version()}, numpy {np.__version__}")
    # First, while this process is small: a forked child's peak RSS starts at its parent's.
    code = ("from adaptive_music import MoodChange, load_backend, render; "
            "render(load_backend(), 'calm forest at dawn, soft strings', 40, seed=7, "
            "changes=[MoodChange(20, 'goblins attack, fast drums, tense')])")
    subprocess.run([sys.executable, "-c", code], check=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the README render in a fresh process: {rss:.0f} MB (limit 300)")
    model = load_backend("procedural")

    readme = [MoodChange(20, "goblins attack, fast drums, tense")]
    r, wall_x, cpu_x = timed(model, "calm forest at dawn, soft strings", 40, readme)
    print(f"render speed, README 40 s timeline, cold start: {wall_x:.0f}x real time (cpu {cpu_x:.0f}x)")
    long_timeline = [MoodChange(60, "tense stealth, low strings, sparse percussion", "bar", 2.0),
                     MoodChange(120, "intense boss battle", "bar", 1.0),
                     MoodChange(180, "sad rainy village", "bar", 4.0),
                     MoodChange(240, "happy tavern, guitar", "bar", 2.0)]
    _, wall_x, cpu_x = timed(model, "calm exploration", 300, long_timeline)
    print(f"render speed, 300 s five-mood timeline: {wall_x:.0f}x real time (cpu {cpu_x:.0f}x)")

    live = model.default_config()
    r = render(model, "calm forest at dawn, soft strings", 40, seed=7, changes=readme, config=live)
    seams = M.seam_report(r.audio, r.seams, radius=1)
    print(f"seams (live hop {live.hop_seconds * 1000:.0f} ms, {seams.seams} seams): worst jump {seams.worst_jump:.4f} "
          f"at sample {seams.worst_seam} vs interior p99.9 {seams.interior_p999:.4f} "
          f"-> ratio {seams.worst_jump / seams.interior_p999:.2f}; vs the chance bound {seams.interior_bound:.4f} "
          f"-> {seams.worst_jump / seams.interior_bound:.2f} (must be <= 1)")
    # What stitching itself adds: the same render with one seam every 8 s, compared at the live seams.
    ref = render(model, "calm forest at dawn, soft strings", 40, seed=7, changes=readme,
                 config=live.replace(hop_seconds=live.window_seconds - live.context_seconds))
    jl, jr = M.sample_jumps(r.audio), M.sample_jumps(ref.audio)
    at = np.array(r.seams) - 1
    print(f"stitching excess at the live seams: max {np.max(jl[at] - jr[at]):.2e} "
          f"(max |live - 8 s hop| anywhere {np.max(np.abs(r.audio - ref.audio)):.2e})")
    print(f"level: peak {M.peak_dbfs(r.audio):.2f} dBFS (limit -0.3), integrated "
          f"{M.integrated_loudness(r.audio, SR):.1f} LUFS (target -16 +/- 2)")

    calm = render(model, "calm exploration", 30, seed=3).audio
    boss = render(model, "intense boss battle", 30, seed=3)
    b = boss.audio
    print(f"boss vs calm: onset rate {M.onset_rate(b, SR):.2f}/s vs {M.onset_rate(calm, SR):.2f}/s "
          f"(x{M.onset_rate(b, SR) / M.onset_rate(calm, SR):.1f}), RMS {M.rms_dbfs(b):.1f} vs {M.rms_dbfs(calm):.1f} dBFS "
          f"(+{M.rms_dbfs(b) - M.rms_dbfs(calm):.1f} dB), centroid {M.spectral_centroid(b, SR):.0f} vs "
          f"{M.spectral_centroid(calm, SR):.0f} Hz (x{M.spectral_centroid(b, SR) / M.spectral_centroid(calm, SR):.2f})")
    intervals = np.diff([m.sample for m in boss.markers])
    print(f"tempo within a mood: {60 * SR / intervals.mean():.2f} bpm, beat-interval spread "
          f"{intervals.std():.2f} samples over {len(intervals)} beats")
    for seed in (1, 2, 3):
        loud = [M.integrated_loudness(render(model, Mood(t), 20, seed=seed).audio, SR)
                for t in ("calm exploration", "intense boss battle", "eerie horror dungeon", "happy tavern")]
        print(f"loudness seed {seed}: " + ", ".join(f"{x:.1f}" for x in loud) + " LUFS")


if __name__ == "__main__":
    main()
