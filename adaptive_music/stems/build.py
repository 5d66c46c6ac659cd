"""A stems build: one job per mood (loop, layers, stingers, score), then one per
source mood for its transitions, run in-process, in worker processes
(``jobs``) or on a Ray cluster (``ray_address``).

Each file's entry records a hash of everything it depends on (the render
parameters, the mood texts and the source code of the procedural backend
and of this package) and a hash of its bytes. A re-run writes a file only
when its inputs changed or the file on disk no longer matches.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import multiprocessing
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..models.procedural import ProceduralModel
from .files import Timing, file_sha256, read_audio, write_audio
from .midi import Note, TempoMap, notes_from_tokens, write_midi
from .render import ScoreRenderer, master_gain
from .roles import INTENSITY_GRID, ROLES, active_roles, entry_intensities, sum_error_db
from .score import compose_score
from .spec import StemsSpec
from .transitions import SEAM_CROSSFADE_SECONDS, MoodParts, assemble_transition, transition_samples

Progress = Callable[[str], None]
_LONGEST_BAR_SECONDS = 4.0  # a 4/4 bar at 60 bpm, the slowest tempo


@functools.lru_cache(maxsize=2)
def code_fingerprint(backend: str = "procedural") -> str:
    """Hash of the sources that decide the audio (the backend, the engine and this
    package), read once per process: the code that runs is the code imported."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in (f"models/{backend}", "stems", "engine"):
        for path in sorted((root / folder).glob("*.py")):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def inputs_fingerprint(spec: StemsSpec) -> str:
    """:func:`code_fingerprint`, and for MusicGen the files of a local checkpoint and of the
    melody (names, sizes, times), so that new weights at the same path render again."""
    if spec.backend != "musicgen":
        return code_fingerprint(spec.backend)
    return _key(code_fingerprint(spec.backend), _files_stamp(spec.model), _files_stamp(spec.melody))[:16]


def _files_stamp(given: str | None) -> list[str]:
    """Name, size and modification time of the file or folder ``given``; a hub id stands for itself."""
    path = Path(given) if given else None
    if path is None or not path.exists():
        return [str(given)]
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def mood_key(spec: StemsSpec, name: str, fingerprint: str) -> str:
    """Hash of everything a mood's files depend on."""
    return _key(fingerprint, spec.params(), dict(spec.moods)[name], spec.stingers)


class _Writer:
    """Writes files under ``out`` unless the previous manifest's entry still holds."""

    def __init__(self, out: Path, previous: dict[str, dict]):
        self.out = out
        self.previous = previous
        self.written = 0
        self.skipped = 0

    def holds(self, rel: str, key: str) -> bool:
        """True when the file at ``rel`` is the one the previous manifest made from inputs ``key``."""
        old = self.previous.get(rel)
        path = self.out / rel
        return bool(old and old.get("input") == key and path.is_file() and file_sha256(path) == old.get("sha256"))

    def _fresh(self, rel: str, key: str) -> dict | None:
        if self.holds(rel, key):
            self.skipped += 1
            return dict(self.previous[rel])
        return None

    def reuse(self, entry: dict | None, key: str) -> bool:
        """True (and counted) when every file of an earlier manifest ``entry`` still holds for ``key``."""
        files = _files_of(entry)
        if not files or not all(self.holds(rel, key) for rel in files):
            return False
        self.skipped += len(files)
        return True

    def audio(self, rel: str, key: str, audio: np.ndarray, spec: StemsSpec, timing: Timing, title: str) -> dict:
        entry = self._fresh(rel, key)
        if entry is None:
            sha = write_audio(self.out / rel, audio, spec.sample_rate, spec.format, timing, title)
            entry = {"file": rel, "sha256": sha, "input": key, "samples": int(len(audio))}
            self.written += 1
        return entry

    def midi(self, rel: str, key: str, roles: dict[str, list[Note]], tempo: TempoMap) -> dict:
        entry = self._fresh(rel, key)
        if entry is None:
            write_midi(self.out / rel, roles, tempo)
            entry = {"file": rel, "sha256": file_sha256(self.out / rel), "input": key}
            self.written += 1
        return entry


def _by_role(notes: list[Note]) -> dict[str, list[Note]]:
    track_role = {t: role for role, tracks in ROLES.items() for t in tracks}
    out: dict[str, list[Note]] = {}
    for note in notes:
        out.setdefault(track_role[note[5]], []).append(note)
    return {role: out[role] for role in ROLES if role in out}


def render_mood(spec: StemsSpec, name: str, out: str, previous: dict[str, dict],
                fingerprint: str) -> tuple[dict, MoodParts, tuple[int, int]]:
    """Render and write one mood's loop, layers, stingers and MIDI.

    Returns its manifest entry, the parts its transitions need, and the
    counts of files (written, skipped as unchanged).
    """
    if spec.backend == "musicgen":
        return _render_musicgen_mood(spec, name, out, previous, fingerprint)
    model = ProceduralModel(spec.sample_rate)
    text = dict(spec.moods)[name]
    score = compose_score(name, text, intensity=spec.intensity, bars=spec.bars, seed=spec.seed, model=model)
    renderer = ScoreRenderer(model)
    mix = renderer.loop(score)
    roles = active_roles(score.select(score.loop_start, score.loop_end))
    layers = {role: renderer.loop(score, ROLES[role]) for role in roles}
    stingers = {s: renderer.stinger(score, s_text) for s, s_text in spec.stingers}
    continuation = spec.transition_bars == 2
    outro = renderer.outro(score, (score.bar_samples if continuation else 0)
                           + int(_LONGEST_BAR_SECONDS * spec.sample_rate), continuation)
    lead_in = renderer.lead_in(score)
    peaks = [float(np.abs(x).max()) for x in [mix, outro, lead_in, *layers.values(), *stingers.values()]]
    gain = master_gain(mix, spec.sample_rate, peaks)
    g = np.float32(gain)
    # The lowest intensity at which the composer plays each role (tokens only: cheap).
    entries_at = entry_intensities({
        i: active_roles(compose_score(name, text, intensity=i, bars=spec.bars, seed=spec.seed, model=model)
                        .select(score.loop_start, score.loop_end))
        for i in INTENSITY_GRID})

    key = mood_key(spec, name, fingerprint)
    w = _Writer(Path(out), previous)
    ext = spec.format
    loop_timing = Timing(score.bpm, score.beats_per_bar, spec.bars, 0, score.loop_samples)
    loop = w.audio(f"loops/{name}.{ext}", key, mix * g, spec, loop_timing, f"{name} loop")
    layer_entries = []
    for role, audio in layers.items():
        entry = w.audio(f"layers/{name}/{role}.{ext}", key, audio * g, spec, loop_timing, f"{name} {role}")
        layer_entries.append({"name": role, "enters_at": entries_at.get(role, spec.intensity), **entry})
    stinger_entries = {}
    for s, audio in stingers.items():
        bars = max(1, -(-len(audio) // score.bar_samples))
        timing = Timing(score.bpm, score.beats_per_bar, bars)
        stinger_entries[s] = w.audio(f"stingers/{name}/{s}.{ext}", key, audio * g, spec, timing, f"{name} {s}")
    entry = {
        "text": text, "bpm": score.bpm, "beats_per_bar": score.beats_per_bar,
        "meter": f"{score.beats_per_bar}/4", "bars": spec.bars, "bar_samples": score.bar_samples,
        "key": {"root": score.root, "scale": score.scale}, "gain_db": round(float(20 * np.log10(gain)), 3),
        "loop": {**loop, "loop_start": 0, "loop_length": score.loop_samples},
        "layers": layer_entries, "stingers": stinger_entries,
        "layer_sum": layer_sum(Path(out), mix * g, loop, layer_entries),
    }
    spf = score.samples_per_frame
    tempo = TempoMap([(0, score.bpm, score.beats_per_bar)], spec.sample_rate)
    if spec.midi:
        notes = notes_from_tokens(score.select(score.loop_start, score.loop_end), spf, score.loop_start)
        entry["midi"] = w.midi(f"midi/loops/{name}.mid", key, _by_role(notes), tempo)
        for layer in layer_entries:
            role = layer["name"]
            layer["midi"] = w.midi(f"midi/layers/{name}/{role}.mid", key,
                                   {role: _by_role(notes)[role]}, tempo)
    tail = int(SEAM_CROSSFADE_SECONDS * spec.sample_rate)
    parts = MoodParts(
        name, score.bpm, score.beats_per_bar, score.bar_samples, gain, outro, lead_in,
        np.ascontiguousarray(mix[-tail:] * g),
        continuation_notes=notes_from_tokens(
            score.select(score.loop_end, score.loop_end + score.bar_samples), spf, score.loop_end),
        lead_in_notes=notes_from_tokens(
            score.select(score.loop_start - score.bar_samples, score.loop_start), spf,
            score.loop_start - score.bar_samples))
    return entry, parts, (w.written, w.skipped)


def layer_sum(out: Path, mix: np.ndarray, loop: dict, layers: list[dict]) -> dict:
    """How closely the layers' files, decoded, sum to the mix as rendered, beside how closely
    the loop's own file holds it: for a lossy format both are the codec's error."""
    decoded = {e["file"]: read_audio(out / e["file"])[0] for e in [loop, *layers]}
    return {"layers_db": round(sum_error_db(mix, [decoded[e["file"]] for e in layers]), 2),
            "loop_db": round(sum_error_db(mix, [decoded[loop["file"]]]), 2)}


def _render_musicgen_mood(spec: StemsSpec, name: str, out: str, previous: dict[str, dict],
                          fingerprint: str) -> tuple[dict, object, tuple[int, int]]:
    """:func:`render_mood` for MusicGen: the loop and stingers (see musicgen.LACKS)."""
    from .musicgen import STINGER_BARS, compose_mood, load_model, musicgen_stinger

    model = load_model(spec.model, spec.melody)
    text = dict(spec.moods)[name]
    mood = compose_mood(model, name, text, bars=spec.bars, seed=spec.seed, intensity=spec.intensity,
                        sample_rate=spec.sample_rate)
    key = mood_key(spec, name, fingerprint)
    w = _Writer(Path(out), previous)
    length = len(mood.loop)
    timing = Timing(mood.bpm, mood.parts.beats_per_bar, spec.bars, 0, length)
    loop = w.audio(f"loops/{name}.{spec.format}", key, mood.loop * np.float32(mood.gain), spec, timing,
                   f"{name} loop")
    stinger_timing = Timing(mood.bpm, mood.parts.beats_per_bar, STINGER_BARS)
    stingers = {
        s: w.audio(f"stingers/{name}/{s}.{spec.format}", key,
                   musicgen_stinger(model, mood.parts, s_text, seed=spec.seed, intensity=spec.intensity,
                                    sample_rate=spec.sample_rate),
                   spec, stinger_timing, f"{name} {s}")
        for s, s_text in spec.stingers}
    entry = {
        "text": text, "bpm": mood.bpm, "beats_per_bar": mood.parts.beats_per_bar,
        "meter": f"{mood.parts.beats_per_bar}/4", "bars": spec.bars, "bar_samples": mood.bar_samples, "key": None,
        "gain_db": round(float(20 * np.log10(mood.gain)), 3),
        "loop": {**loop, "loop_start": 0, "loop_length": length}, "layers": [], "stingers": stingers,
        "generated": {"samples": mood.generated_samples, "loop_from": mood.choice.start,
                      "similarity": round(mood.choice.similarity, 4), "candidates": mood.choice.candidates},
    }
    return entry, mood.parts, (w.written, w.skipped)


def _transition_audio(spec: StemsSpec, a, b) -> tuple[np.ndarray, dict]:
    """The A -> B transition's audio, and what its manifest entry adds for the backend."""
    if spec.backend == "musicgen":
        from .musicgen import load_model, musicgen_transition

        audio = musicgen_transition(load_model(spec.model, spec.melody), a, b, spec.transition_bars, seed=spec.seed,
                                    intensity=spec.intensity, sample_rate=spec.sample_rate)
        return audio, {"continuation_at": a.continuation_at}
    return assemble_transition(a, b, spec.transition_bars), {}


def transition_key(keys: dict[str, str], a: str, b: str, bars: int) -> str:
    return _key(keys[a], keys[b], bars)


def render_transitions(spec: StemsSpec, source: str, parts: dict[str, Any], out: str,
                       previous: dict[str, dict], keys: dict[str, str],
                       unchanged: dict[tuple[str, str], dict]) -> tuple[list[dict], tuple[int, int]]:
    """Assemble and write every transition from ``source``; return their entries and counts.

    ``unchanged`` holds the earlier entries of transitions whose files still hold."""
    w = _Writer(Path(out), previous)
    entries = []
    for a, b in spec.pairs():
        if a != source:
            continue
        if (a, b) in unchanged:
            entries.append(unchanged[(a, b)])
            w.skipped += 1 + int(spec.midi)
            continue
        pa, pb = parts[a], parts[b]
        audio, extra = _transition_audio(spec, pa, pb)
        length, b_start = transition_samples(pa, pb, spec.transition_bars)
        key = transition_key(keys, a, b, spec.transition_bars)
        beats = (pa.beats_per_bar if b_start else 0) + pb.beats_per_bar
        mean_bpm = beats * 60.0 * spec.sample_rate / length
        timing = Timing(mean_bpm, pb.beats_per_bar, spec.transition_bars)
        entry = w.audio(f"transitions/{a}__{b}.{spec.format}", key, audio, spec, timing, f"{a} to {b}")
        entry = {"from": a, "to": b, "quantize": "bar", "bars": spec.transition_bars, "bpm": mean_bpm,
                 "beats": beats,
                 "bar_lines": [0, b_start, length] if b_start else [0, length], **extra, **entry}
        if spec.midi:
            changes = [(0, pa.bpm, pa.beats_per_bar)] if b_start else []
            tempo = TempoMap(changes + [(b_start, pb.bpm, pb.beats_per_bar)], spec.sample_rate)
            notes = (pa.continuation_notes if b_start else []) + [
                (s + b_start, *rest) for s, *rest in pb.lead_in_notes]
            entry["midi"] = w.midi(f"midi/transitions/{a}__{b}.mid", key, _by_role(notes), tempo)
        entries.append(entry)
    return entries, (w.written, w.skipped)


def _files_of(node: Any) -> list[str]:
    """Every ``file`` named anywhere in a manifest entry."""
    if isinstance(node, dict):
        own = [node["file"]] if isinstance(node.get("file"), str) else []
        return own + [f for value in node.values() for f in _files_of(value)]
    if isinstance(node, list):
        return [f for value in node for f in _files_of(value)]
    return []


def _run_jobs(fn: Callable, argsets: list[tuple], jobs: int, ray_address: str | None,
              labels: list[str], progress: Progress | None) -> list:
    """``[fn(*args) for args in argsets]``, in order, in-process, in ``jobs`` processes or on Ray."""
    results: list = [None] * len(argsets)
    if ray_address:
        import ray

        if not ray.is_initialized():
            ray.init(address=ray_address, log_to_driver=False)
        remote = ray.remote(fn)
        pending = {remote.remote(*args): i for i, args in enumerate(argsets)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(done[0])
            results[i] = ray.get(done[0])
            if progress:
                progress(labels[i])
    elif jobs > 1:
        # Spawned, not forked: a child forked from a process whose torch threads have started
        # (MusicGen, loaded up front to check it) can wait forever on a lock held by a thread it lacks.
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
            futures = {pool.submit(fn, *args): i for i, args in enumerate(argsets)}
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if progress:
                    progress(labels[i])
    else:
        for i, args in enumerate(argsets):
            results[i] = fn(*args)
            if progress:
                progress(labels[i])
    return results


def build_stems(spec: StemsSpec, out: Path, *, jobs: int = 1, ray_address: str | None = None,
                progress: Progress | None = None, command: list[str] | None = None) -> dict:
    """Render ``spec`` into folder ``out`` and write its manifest; return the manifest.

    ``progress(label)`` is called as each job finishes (moods first, then
    transitions by source mood).
    """
    from .manifest import MANIFEST_NAME, load_entries, load_manifest, write_manifest

    out.mkdir(parents=True, exist_ok=True)
    previous = load_entries(out / MANIFEST_NAME)
    try:
        before = load_manifest(out)
    except ValueError:
        before = {}
    fingerprint = inputs_fingerprint(spec)
    names = [n for n, _ in spec.moods]
    keys = {n: mood_key(spec, n, fingerprint) for n in names}
    # What still holds from the last build is reused without rendering: a mood is rendered
    # when any of its files changed or a transition from or to it must be made again.
    check = _Writer(out, previous)
    old_transitions = {(t.get("from"), t.get("to")): t for t in before.get("transitions", [])}
    unchanged = {pair: old_transitions[pair] for pair in spec.pairs() if pair in old_transitions
                 and check.reuse(old_transitions[pair], transition_key(keys, *pair, spec.transition_bars))}
    needed = {n for pair in spec.pairs() if pair not in unchanged for n in pair}
    old_moods = before.get("moods", {})
    kept = {n: old_moods[n] for n in names if n not in needed and check.reuse(old_moods.get(n), keys[n])}
    render = [n for n in names if n not in kept]
    rendered = dict(zip(render, _run_jobs(render_mood, [(spec, n, str(out), previous, fingerprint) for n in render],
                                          jobs, ray_address, render, progress)))
    for n in kept:
        if progress:
            progress(n)
    moods = [rendered[n] if n in rendered else (kept[n], None, (0, len(_files_of(kept[n])))) for n in names]
    parts = {n: m[1] for n, m in zip(names, moods)}
    sources = [n for n in names if any(a == n for a, _ in spec.pairs())]
    transitions = _run_jobs(render_transitions,
                            [(spec, n, parts, str(out), previous, keys, unchanged) for n in sources],
                            jobs, ray_address, [f"{n} ->" for n in sources], progress)
    counts = [m[2] for m in moods] + [t[1] for t in transitions]
    render_params = {**spec.params(), "seed": spec.seed, "code": fingerprint, "command": command or []}
    if spec.backend == "musicgen":
        from .musicgen import LACKS

        render_params["lacks"] = LACKS
    manifest = {
        "moods": {n: m[0] for n, m in zip(names, moods)},
        "transitions": [e for t in transitions for e in t[0]],
        "stingers": dict(spec.stingers),
        "render": render_params,
        "files_written": sum(c[0] for c in counts),
        "files_unchanged": sum(c[1] for c in counts),
    }
    return write_manifest(out, manifest)
