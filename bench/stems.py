"""Offline stems figures (issue #10), for the shipped example map.

Prints, measured in this run:
- wall time and real-time factor (seconds of audio written per wall second)
  of the full set (loops, layers, every transition, stingers, MIDI), OGG, with
  --jobs 1 and --jobs 2, each into an empty folder;
- the worst loop seam over all loops and layers (decoded OGG): the wrap's jump
  against the loop's own 99.9th percentile, and the wrap's spectral flux
  against the largest elsewhere in the loop;
- how far the layers' sum is from the full mix, in dB of the mix's peak: in the
  float render, as 16-bit WAV files, and decoded from OGG (lossy: beside how far
  the decoded OGG loop file itself is from the rendered mix);
- transition bar alignment: decoded length minus the bar lines, in samples;
- a re-run with nothing changed;
- for the musicgen backend (``--musicgen DIR``, or ``--musicgen tiny`` for a tiny
  random-weight checkpoint built here: mechanics, not music), the first three moods
  of the map with all its stingers: the worst loop seam, the loop points' similarity,
  the stingers' decay over their bar, how far each transition's continuation starts
  from its bar line (codec frames), wall time.

    python bench/stems.py [--bars 16] [--seed 3] [--musicgen tiny|DIR [--musicgen-bars 2]]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from adaptive_music.models.procedural import ProceduralModel
from adaptive_music.mood.maps import EXAMPLE, load_mood_map
from adaptive_music.stems import build_stems, load_manifest, spec_from_map
from adaptive_music.stems.render import ScoreRenderer
from adaptive_music.stems.roles import ROLES, active_roles, sum_error_db
from adaptive_music.stems.score import compose_score
from adaptive_music.stems.seams import loop_seam


def _audio_seconds(manifest: dict, rate: int) -> float:
    n = sum(t["samples"] for t in manifest["transitions"])
    for mood in manifest["moods"].values():
        n += sum(e["samples"] for e in [mood["loop"], *mood["layers"], *mood["stingers"].values()])
    return n / rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--musicgen", metavar="tiny|DIR", help="also measure a musicgen build of the map's first three moods")
    ap.add_argument("--musicgen-bars", type=int, default=2)
    ap.add_argument("--only-musicgen", action="store_true", help="skip the procedural figures")
    args = ap.parse_args()
    mood_map = load_mood_map(EXAMPLE)
    print(f"python {platform.python_version()}, {platform.machine()}, example map {EXAMPLE.name}, "
          f"--bars {args.bars} --seed {args.seed}")
    root = Path(tempfile.mkdtemp(prefix="stems-bench-"))
    try:
        if args.musicgen:
            musicgen_figures(mood_map, args.musicgen, args.musicgen_bars, args.seed, root)
        if not args.only_musicgen:
            procedural_figures(mood_map, args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def musicgen_figures(mood_map, model: str, bars: int, seed: int, root: Path) -> None:
    from adaptive_music.stems import StemsSpec

    if model == "tiny":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from musicgen_tiny import build_family

        model = str(build_family(root / "tiny", "mono"))
    moods = tuple(list(mood_map.moods.items())[:3])
    spec = StemsSpec(moods=moods, stingers=tuple(mood_map.stingers.items()), bars=bars, seed=seed, format="wav",
                     backend="musicgen", model=model)
    start = time.perf_counter()
    manifest = build_stems(spec, root / "musicgen")
    wall = time.perf_counter() - start
    seconds = _audio_seconds(manifest, spec.sample_rate)
    frame = spec.sample_rate / 50
    stingers = [(name, s) for name, mood in manifest["moods"].items() for s in mood["stingers"].values()]
    print(f"musicgen ({'tiny random weights' if 'tiny' in model else model}): {len(moods)} moods, "
          f"{len(stingers)} stingers, {len(manifest['transitions'])} transitions, --bars {bars}: {seconds:.1f} s of audio in {wall:.1f} s wall "
          f"= {seconds / wall:.2f}x real time")
    worst, sims = (0.0, ""), []
    for name, mood in manifest["moods"].items():
        audio = soundfile.read(root / "musicgen" / mood["loop"]["file"], dtype="float32", always_2d=True)[0]
        seam = loop_seam(audio, spec.sample_rate, mood["bar_samples"])
        worst = max(worst, (seam.jump / seam.jump_p999, name))
        worst = max(worst, (seam.flux / seam.flux_max, name + " (flux)"))
        sims.append(mood["generated"]["similarity"])
        assert len(audio) == mood["bars"] * mood["bar_samples"]
    offsets = [abs(t["continuation_at"]) / frame for t in manifest["transitions"]]
    print(f"musicgen loops: worst seam jump / own p99.9 or flux / largest elsewhere {worst[0]:.3f} ({worst[1]}); "
          f"loop-point similarity {min(sims):.3f}..{max(sims):.3f}; every loop whole bars at its bpm")
    decays = []
    for name, entry in stingers:
        audio = soundfile.read(root / "musicgen" / entry["file"], dtype="float32", always_2d=True)[0]
        tenth = len(audio) // 10
        decays.append(20 * np.log10(np.sqrt(np.mean(audio[-tenth:] ** 2) / np.mean(audio[:tenth] ** 2))))
        assert len(audio) == manifest["moods"][name]["bar_samples"] and not audio[0].any()
    if stingers:
        print(f"musicgen stingers: one bar each, from silence; last tenth vs first tenth "
              f"{min(decays):.1f}..{max(decays):.1f} dB")
    print(f"musicgen transitions: continuation starts at most {max(offsets):.2f} codec frames from the bar line; "
          f"lengths exact to the sample")


def procedural_figures(mood_map, args, root: Path) -> None:
    for jobs in (1, 2):
        spec = spec_from_map(mood_map, bars=args.bars, seed=args.seed, format="ogg")
        out = root / f"jobs{jobs}"
        start = time.perf_counter()
        manifest = build_stems(spec, out, jobs=jobs)
        wall = time.perf_counter() - start
        seconds = _audio_seconds(manifest, spec.sample_rate)
        print(f"--jobs {jobs}: {len(manifest['moods'])} moods, {len(manifest['transitions'])} transitions, "
              f"{manifest['files_written']} files, {seconds:.0f} s of audio in {wall:.1f} s wall "
              f"= {seconds / wall:.1f}x real time")
    start = time.perf_counter()
    again = build_stems(spec, out, jobs=2)
    print(f"re-run, nothing changed: {again['files_written']} written, {again['files_unchanged']} unchanged, "
          f"{time.perf_counter() - start:.1f} s")

    worst_jump, worst_bar, worst_flux = (0.0, ""), (0.0, ""), (0.0, "")
    sums_ogg = [(m["layer_sum"]["layers_db"], m["layer_sum"]["loop_db"]) for m in manifest["moods"].values()]
    loops = {}  # mood -> (decoded loop, its seam)
    for name, mood in manifest["moods"].items():
        for entry in [mood["loop"], *mood["layers"]]:
            audio = soundfile.read(out / entry["file"], dtype="float32", always_2d=True)[0]
            seam = loop_seam(audio, spec.sample_rate, mood["bar_samples"])
            loops.setdefault(name, (audio, seam))
            worst_jump = max(worst_jump, (seam.jump / seam.jump_p999, entry["file"]))
            worst_bar = max(worst_bar, (seam.jump / max(seam.jump_p999, seam.bar_line_jump), entry["file"]))
            worst_flux = max(worst_flux, (seam.flux / seam.flux_max, entry["file"]))
    print(f"worst loop seam jump / own p99.9 jump: {worst_jump[0]:.3f} ({worst_jump[1]})")
    print(f"worst loop seam jump / max(own p99.9 jump, jumps onto its other bar lines): "
          f"{worst_bar[0]:.3f} ({worst_bar[1]})")
    print(f"worst loop seam flux / largest flux elsewhere: {worst_flux[0]:.3f} ({worst_flux[1]})")

    model = ProceduralModel(spec.sample_rate)
    renderer = ScoreRenderer(model)
    sums_float, sums_wav = [], []
    worst_float = (0.0, "")
    for name, text in spec.moods:
        score = compose_score(name, text, intensity=spec.intensity, bars=spec.bars, seed=spec.seed, model=model)
        mix = renderer.loop(score)
        roles = active_roles(score.select(score.loop_start, score.loop_end))
        layers = [renderer.loop(score, ROLES[r]) for r in roles]
        for part, audio in zip(["loop"] + roles, [mix] + layers):
            seam = loop_seam(audio, spec.sample_rate, score.bar_samples)
            worst_float = max(worst_float, (seam.jump / seam.jump_p999, f"{name} {part}"))
        sums_float.append(sum_error_db(mix, layers))
        q = [np.round(x * 32767) / 32767 for x in [mix] + layers]  # as 16-bit WAV stores them
        sums_wav.append(sum_error_db(q[0], q[1:]))
    print(f"float render (what WAV holds): worst seam jump / own p99.9 jump {worst_float[0]:.3f} "
          f"({worst_float[1]})")
    print(f"layers vs mix, worst over moods: float render {max(sums_float):.1f} dB, "
          f"16-bit WAV {max(sums_wav):.1f} dB; decoded OGG layers vs the rendered mix "
          f"{max(x for x, _ in sums_ogg):.1f} dB where the decoded OGG loop file itself is "
          f"{min(y for _, y in sums_ogg):.1f}..{max(y for _, y in sums_ogg):.1f} dB "
          f"(worst layers minus loop file: {max(x - y for x, y in sums_ogg):+.1f} dB)")

    offsets = []
    for t in manifest["transitions"]:
        n = soundfile.info(str(out / t["file"])).frames
        a, b = manifest["moods"][t["from"]], manifest["moods"][t["to"]]
        lines = [0, a["bar_samples"], a["bar_samples"] + b["bar_samples"]][-len(t["bar_lines"]):]
        offsets.append(abs(n - t["bar_lines"][-1]) + abs(t["bar_lines"][-1] - (lines[-1] if len(lines) == 3
                                                                               else b["bar_samples"])))
    print(f"transitions: {len(offsets)}; worst |decoded length - bar line| + |bar line - grid|: "
          f"{max(offsets)} samples")
    steps = []
    for t in manifest["transitions"]:
        audio = soundfile.read(out / t["file"], dtype="float32", always_2d=True, frames=1)[0]
        loop, seam = loops[t["from"]]
        steps.append((float(np.abs(audio[0] - loop[-1]).max()) / max(seam.jump_p999, 1.02 * seam.bar_line_jump),
                      t["file"]))
    print(f"worst first step out of A's loop / A's own bound (p99.9, or 1.02 x its bar lines): "
          f"{max(steps)[0]:.3f} ({max(steps)[1]})")


if __name__ == "__main__":
    sys.exit(main())
