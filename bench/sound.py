"""How the procedural backend sounds next to produced music (issue 15).

Renders moods with each renderer (the built-in synthesizer and, when a
SoundFont is found, the sampled instruments) and measures, against produced
music grouped by mood class (bench/reference_music.py: the 28 tracks of the
PyPI package ``immich-memories-music`` and 24 of Wesnoth's soundtrack; classes
calm, energetic, happy, nostalgic, tender, tense):

- 7-band spectral contrast and the 2-4 kHz energy share, against the range
  of the matching class, each render measured after one pass through Opus at
  the reference tracks' rate (they are all lossy-coded) and, for contrast, as
  rendered too;
- octave-band balance against the class median (worst band and mean |dev|);
- the same criteria applied to each real track against the rest of its class,
  to read the renders' figures against;
- loudness and peak, seams at the live hop, tempo stability, distinctness
  between moods (onset rate, RMS, centroid), live == offline bit for bit;
- speed on one core and peak RSS of a fresh process that renders;
- with ``--tagger-python``: whether an independent tagger (MusiCNN, MagnaTagATune)
  hears the instrument each of seven moods names among its top three tags.

    pip install immich-memories-music   # reference tracks (MIT)
    apt-get install wesnoth-1.16-music  # reference tracks (GPL-2+, measured only)
    python bench/sound.py [--seconds 30] [--seeds 3] [--soundfont PATH]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core, as a game would give us

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import reference_music  # noqa: E402

from adaptive_music import load_backend, render  # noqa: E402
from adaptive_music.audio import measures as M  # noqa: E402
from adaptive_music.audio.timbre import OCTAVE_CENTRES, band_share_db, octave_balance_db, spectral_contrast  # noqa: E402

SR = 48000

MOODS = {  # text -> reference class
    "calm forest at dawn, soft strings": "calm",
    "sad solo piano": "nostalgic",
    "acoustic guitar by the campfire": "tender",
    "epic choir chanting": "energetic",
    "fast techno drums": "energetic",
    "gentle flute melody": "calm",
    "harp lullaby": "tender",
    "happy folk tavern dance": "happy",
    "intense orchestral boss battle": "energetic",
    "melancholy string quartet": "nostalgic",
    "tense stealth, low strings, sparse percussion": "tense",
}


# Moods that name an instrument -> the MagnaTagATune tags that count as hearing it.
NAMED = {
    "sad solo piano": {"piano"},
    "acoustic guitar by the campfire": {"guitar"},
    "epic choir chanting": {"choir", "choral", "vocal", "vocals", "voice", "singing"},
    "fast techno drums": {"drums", "techno", "beat", "beats"},
    "gentle flute melody": {"flute"},
    "harp lullaby": {"harp"},
    "melancholy string quartet": {"strings", "violin", "cello"},
}


def tag_renders(model, seconds: float, python: str, seeds: list[int]) -> None:
    """Render the instrument-naming moods with each seed and ask the MusiCNN tagger
    (bench/instrument_tags.py, run by ``python``, an environment with TensorFlow and musicnn)
    for their top tags."""
    import tempfile

    from adaptive_music.audio import write_wav

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for seed in seeds:
            for text in NAMED:
                paths[seed, text] = os.path.join(tmp, f"{len(paths)}.wav")
                write_wav(paths[seed, text], render(model, text, seconds, seed=seed).audio, SR)
        out = subprocess.run([python, os.path.join(os.path.dirname(__file__), "instrument_tags.py"),
                              *paths.values()], capture_output=True, text=True, check=True).stdout
    found = json.loads(out.strip().splitlines()[-1])
    hits = dict.fromkeys(seeds, 0)
    for (seed, text), path in paths.items():
        top = found[path]
        hit = bool(NAMED[text] & {t for t, _ in top[:3]})
        hits[seed] += hit
        print(f"  tagger, seed {seed}, {text!r}: {', '.join(f'{t} {p:.2f}' for t, p in top[:5])} -> "
              f"{'heard' if hit else 'NOT in top 3'}")
    print("instrument recognised in the tagger's top 3: "
          + ", ".join(f"{hits[seed]}/{len(NAMED)} (seed {seed})" for seed in seeds))


def references(sets: tuple[str, ...]) -> dict[str, list[dict]]:
    """Measures of every reference track, by class (see bench/reference_music.py)."""
    import soundfile

    by_class, missing = reference_music.tracks(sets)
    for line in missing:
        print(f"reference set left out: {line}")
    out: dict[str, list[dict]] = {}
    for cls, paths in by_class.items():
        for path in paths:
            audio, sr = soundfile.read(path, dtype="float32")
            m = measure(audio, sr) | {"source": reference_music.source(path)}
            if sr == SR:  # the control for the renders' Opus pass: what a second pass does to a coded track
                m["contrast_recoded"] = spectral_contrast(through_opus(audio)[0], sr)
            out.setdefault(cls, []).append(m)
    return out


OPUS_LEVEL = 0.74
"""libsndfile's Opus compression level that codes a stereo 48-kHz render at 144 kbps: the
median rate of the immich tracks (Opus, 137-153 kbps; Wesnoth's are Vorbis, median 158)."""


def through_opus(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """The render after one pass through Opus at the reference tracks' rate, as every reference
    track has had, and that rate in kbps. A lossy codec's noise fills the valleys that spectral
    contrast measures (most of all below 12 Hz and between sparse partials), so a render is
    compared with coded tracks after coding too."""
    import io

    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, audio, SR, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL)
    kbps = len(buf.getvalue()) * 8 / (len(audio) / SR) / 1000
    buf.seek(0)
    return soundfile.read(buf, dtype="float32")[0], kbps


def measure(audio: np.ndarray, sr: int) -> dict:
    return {"contrast": spectral_contrast(audio, sr), "share": band_share_db(audio, sr),
            "octaves": octave_balance_db(audio, sr)}


def compare(m: dict, refs: list[dict]) -> dict:
    """Where a render's measures fall against one class of reference tracks."""
    con = np.array([r["contrast"] for r in refs])
    share = np.array([r["share"] for r in refs])
    octs = np.median([r["octaves"] for r in refs], axis=0)
    dev = m["octaves"] - octs
    inside = (m["contrast"] >= con.min(axis=0)) & (m["contrast"] <= con.max(axis=0))
    return {"contrast_in": int(inside.sum()), "contrast_lo": con.min(axis=0), "contrast_hi": con.max(axis=0),
            "share_in": bool(share.min() <= m["share"] <= share.max()), "share_range": (share.min(), share.max()),
            "oct_worst": float(np.max(np.abs(dev))), "oct_mean": float(np.mean(np.abs(dev))), "oct_dev": dev,
            "oct_in": int(np.sum(np.abs(dev) <= 3.0))}


def real_tracks_against_their_class(refs: dict[str, list[dict]]) -> dict[str, list[float]]:
    """Measure each real track against the other tracks of its class, by the criteria the renders
    meet; prints how many pass and returns, per class, each track's worst-band octave deviation."""
    worst: dict[str, list[float]] = {}
    contrast = bands = share = oct3 = oct_bands = 0
    for cls, rs in refs.items():
        for i, r in enumerate(rs):
            c = compare(r, rs[:i] + rs[i + 1:])
            contrast += c["contrast_in"] == 7
            bands += c["contrast_in"]
            share += c["share_in"]
            oct3 += c["oct_worst"] <= 3.0
            oct_bands += c["oct_in"]
            worst.setdefault(cls, []).append(c["oct_worst"])
    n = sum(map(len, refs.values()))
    every = np.concatenate(list(worst.values()))
    print(f"  the real tracks against the others of their class: all 7 contrast bands in range {contrast}/{n} "
          f"({bands}/{7 * n} bands); 2-4 kHz share in range {share}/{n}; every octave band within 3 dB of "
          f"the median {oct3}/{n} ({oct_bands}/{len(OCTAVE_CENTRES) * n} bands); worst band off by "
          f"{np.min(every):.1f}..{np.max(every):.1f} dB (median {np.median(every):.1f})")
    return worst


def rss_of_fresh_render(soundfont: str) -> float:
    code = ("import sys; from adaptive_music import load_backend, render; "
            "render(load_backend('procedural', soundfont=sys.argv[1]), 'intense orchestral boss battle', 20, seed=1)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-c", code, soundfont], check=True)
    return max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seeds", default="3", help="comma-separated seeds: each mood is rendered with each, and the "
                    "counts are over moods x seeds (one seed's figures are one draw of the composer)")
    ap.add_argument("--soundfont", default=None, help="font for the sampled renderer (default: discovered)")
    ap.add_argument("--renderers", default="builtin,sampled")
    ap.add_argument("--references", default="immich,wesnoth", help="reference sets (bench/reference_music.py)")
    ap.add_argument("--tagger-python", default=os.environ.get("ADAPTIVE_MUSIC_TAGGER_PYTHON"),
                    help="a Python with tensorflow-cpu, librosa and musicnn (see bench/instrument_tags.py)")
    args = ap.parse_args()
    if "sampled" in args.renderers:  # first: the children's peak RSS would later be the tagger's
        from adaptive_music import find_soundfont

        font = find_soundfont(args.soundfont)
        if font is not None:
            print(f"peak RSS of a fresh process rendering with {font.name}: {rss_of_fresh_render(str(font)):.0f} MB")
    refs = references(tuple(args.references.split(",")))
    for cls in [c for c, rs in refs.items() if len(rs) < 2]:  # leave-one-out needs two or more
        print(f"reference class left out: {cls} has only {len(refs.pop(cls))} track")
    if not refs:
        sys.exit("no reference tracks to measure against: install a set (see the lines above)")
    sources = [r["source"] for rs in refs.values() for r in rs]
    print(f"reference: {len(sources)} tracks ("
          + ", ".join(f"{s} {sources.count(s)}" for s in sorted(set(sources))) + "), classes "
          + ", ".join(f"{k} {len(v)}" for k, v in refs.items()))
    moods = {text: cls for text, cls in MOODS.items() if cls in refs}
    for cls, rs in refs.items():
        con = np.array([r["contrast"] for r in rs])
        share = [r["share"] for r in rs]
        print(f"  {cls:<9} contrast min {np.round(con.min(0), 1)} max {np.round(con.max(0), 1)}; "
              f"2-4 kHz {min(share):.1f}..{max(share):.1f} dB")
    moved = np.array([r["contrast_recoded"] - r["contrast"] for rs in refs.values() for r in rs
                      if "contrast_recoded" in r])
    if len(moved):
        print(f"  control: a second Opus pass moves the contrast of {len(moved)} coded 48-kHz tracks by "
              f"{np.round(moved.mean(0), 2)} dB per band on average, at most {np.abs(moved).max():.2f} dB")
    real_worst = real_tracks_against_their_class(refs)
    own_worst = {cls: max(w) for cls, w in real_worst.items()}
    seeds = [int(s) for s in args.seeds.split(",")]
    summary = {}
    for renderer in args.renderers.split(","):
        font = "none" if renderer == "builtin" else (args.soundfont or "auto")
        model = load_backend("procedural", soundfont=font)
        if renderer == "sampled" and model.renderer != "sampled":
            print(f"\n== sampled: no SoundFont found, skipped ({model.renderer_notice})")
            continue
        print(f"\n== {renderer} renderer ({model.renderer_notice or 'built-in synthesizer'})")
        rows, worst = [], []
        stats = dict.fromkeys(("contrast", "contrast_bands", "contrast_raw", "contrast_bands_raw", "share", "oct3",
                               "oct_bands", "oct_real", "loud", "peak"), 0)
        for seed, (text, cls) in itertools.product(seeds, moods.items()):
            start = time.process_time()
            r = render(model, text, args.seconds, seed=seed)
            cpu = time.process_time() - start
            a = r.audio
            coded, kbps = through_opus(a)
            m = measure(coded, SR)
            c = compare(m, refs[cls])
            raw_m = measure(a, SR)
            raw = compare(raw_m, refs[cls])
            loud, peak = M.integrated_loudness(a, SR), M.peak_dbfs(a)
            beats = np.diff([mk.sample for mk in r.markers])
            if seed == seeds[0]:
                rows.append((text, a))
            worst.append(c["oct_worst"])
            stats["contrast"] += c["contrast_in"] == 7
            stats["contrast_bands"] += c["contrast_in"]
            stats["contrast_raw"] += raw["contrast_in"] == 7
            stats["contrast_bands_raw"] += raw["contrast_in"]
            stats["share"] += c["share_in"]
            stats["oct3"] += c["oct_worst"] <= 3.0
            stats["oct_bands"] += c["oct_in"]
            stats["oct_real"] += c["oct_worst"] <= own_worst[cls]
            stats["loud"] += abs(loud + 16) <= 2
            stats["peak"] += peak <= -0.3
            print(f"{text!r} ({cls}, seed {seed}), measured after Opus at {kbps:.0f} kbps: "
                  f"contrast {np.round(m['contrast'], 1)} "
                  f"({c['contrast_in']}/7 in range; as rendered {np.round(raw_m['contrast'], 1)}, "
                  f"{raw['contrast_in']}/7); "
                  f"2-4 kHz {m['share']:.1f} dB (class {c['share_range'][0]:.1f}..{c['share_range'][1]:.1f}) "
                  f"{'in' if c['share_in'] else 'OUT'}; octaves vs median {np.round(c['oct_dev'], 1)} "
                  f"worst {c['oct_worst']:.1f} mean {c['oct_mean']:.1f} dB; {loud:.1f} LUFS peak {peak:.2f} dBFS; "
                  f"beat spread {beats.std():.2f} samples; onsets {M.onset_rate(a, SR):.2f}/s "
                  f"RMS {M.rms_dbfs(a):.1f} dB centroid {M.spectral_centroid(a, SR):.0f} Hz; "
                  f"{args.seconds / cpu:.0f}x real time (cpu)")
        n = len(moods) * len(seeds)
        print(f"summary {renderer}, {len(moods)} moods x seeds {args.seeds}, after Opus: "
              f"contrast all 7 bands in range {stats['contrast']}/{n} "
              f"({stats['contrast_bands']}/{7 * n} bands; as rendered {stats['contrast_raw']}/{n}, "
              f"{stats['contrast_bands_raw']}/{7 * n} bands); 2-4 kHz in range "
              f"{stats['share']}/{n}; octave balance within 3 dB everywhere {stats['oct3']}/{n} "
              f"({stats['oct_bands']}/{len(OCTAVE_CENTRES) * n} bands; worst band no "
              f"further off than the class's own real tracks are: {stats['oct_real']}/{n}; median worst band "
              f"{np.median(worst):.1f} dB, the real tracks' "
              f"{np.median(np.concatenate(list(real_worst.values()))):.1f}); loudness "
              f"-16+/-2 {stats['loud']}/{n}; peak <= -0.3 {stats['peak']}/{n}")
        feats = np.array([[M.onset_rate(a, SR), M.rms_dbfs(a), np.log2(M.spectral_centroid(a, SR))]
                          for _, a in rows])
        z = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
        dist = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))
        closest = np.min(dist + np.eye(len(z)) * 1e9)
        calm, boss = (list(moods).index(t) for t in ("calm forest at dawn, soft strings", "intense orchestral boss battle"))
        print(f"distinctness, seed {seeds[0]}: closest pair of moods {closest:.2f} standard units apart in "
              f"(onset rate, RMS, log centroid); calm vs boss onsets x{feats[boss, 0] / feats[calm, 0]:.1f}, "
              f"centroid x{2 ** (feats[boss, 2] - feats[calm, 2]):.2f}")
        live = model.default_config()
        text = "intense orchestral boss battle"
        a = render(model, text, 12, seed=5, config=live)
        b = render(model, text, 12, seed=5)
        seams = M.seam_report(a.audio, a.seams, radius=1)
        # A 40-ms hop and render's 1-s hop cut the windows in different places, so notes are summed in
        # another order: equal to the last bits. The bit-exact check of a live engine against render
        # at the same hop is tests/test_soundtrack.py (and tests/test_sound.py for the sampled renderer).
        print(f"live (hop {live.hop_seconds * 1000:.0f} ms) vs offline (1 s hop): bit for bit "
              f"{np.array_equal(a.audio, b.audio)}, largest difference {np.max(np.abs(a.audio - b.audio)):.1e}; seams "
              f"{seams.seams}, worst jump / interior p99.9 = {seams.worst_jump / seams.interior_p999:.2f}, "
              f"/ chance bound = {seams.worst_jump / seams.interior_bound:.2f} (must be <= 1)")
        start = time.process_time()
        render(model, "calm forest at dawn, soft strings", 60, seed=11)
        render(model, "intense orchestral boss battle", 60, seed=11)
        speed = 120 / (time.process_time() - start)
        print(f"speed on one core, two fresh 60 s renders: {speed:.0f}x real time")
        summary[renderer] = {k: int(v) for k, v in stats.items()} | {"speed": round(speed)}
        if args.tagger_python:
            tag_renders(model, args.seconds, args.tagger_python, seeds)
    print("summary", json.dumps(summary))


if __name__ == "__main__":
    main()
