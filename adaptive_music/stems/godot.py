"""Godot 4.3+ resources for a stems build, so a Godot game plays it with no code.

``music.tres`` is an ``AudioStreamInteractive``: one clip per mood loop,
and the rendered transitions as filler clips in a ``_transitions`` table
(from the next bar of the playing loop, to the start of the next loop).
Godot holds at most 63 clips; pairs whose filler does not fit crossfade
over one bar instead, and the build says which. ``<mood>_layers.tres`` is
an ``AudioStreamSynchronized`` of a mood's layers. Beside every OGG file an
``.import`` file sets ``loop``, ``bpm``, ``beat_count`` and ``bar_beats``,
which Godot's beat and bar sync read (its WAV importer has no tempo, so
beat sync needs ``--format ogg``). Paths are relative to the ``.tres``
file, so the build folder can be copied anywhere in a project.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .files import atomic_write

MAX_CLIPS = 63  # Godot's AudioStreamInteractive limit (a bitmask per clip)
FROM_NEXT_BAR, TO_START = 2, 1
FADE_DISABLED, FADE_CROSS = 0, 3
log = logging.getLogger(__name__)


def _str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _resource(kind: str, files: list[str], body: list[str]) -> str:
    head = [f'[gd_resource type="{kind}" load_steps={len(files) + 1} format=3]', ""]
    head += [f'[ext_resource type="AudioStream" path={_str(f)} id="{i + 1}"]' for i, f in enumerate(files)]
    return "\n".join(head + ["", "[resource]"] + body) + "\n"


def interactive_stream(manifest: dict) -> tuple[str, list[tuple[str, str]]]:
    """The ``AudioStreamInteractive`` text, and the (from, to) pairs left without a filler clip."""
    moods = list(manifest["moods"])
    files = [manifest["moods"][m]["loop"]["file"] for m in moods]
    names = list(moods)
    fillers, unfilled = {}, []
    for t in manifest["transitions"]:
        if len(files) < MAX_CLIPS:
            fillers[(t["from"], t["to"])] = len(files)
            files.append(t["file"])
            names.append(f"{t['from']}_to_{t['to']}")
        else:
            unfilled.append((t["from"], t["to"]))
    body = [f"clip_count = {len(files)}"]
    for i, name in enumerate(names):
        body += [f"clip_{i}/name = &{_str(name)}", f'clip_{i}/stream = ExtResource("{i + 1}")',
                 f"clip_{i}/auto_advance = 0"]
    body.append("initial_clip = 0")
    entries = []
    for t in manifest["transitions"]:
        a, b = moods.index(t["from"]), moods.index(t["to"])
        filler = fillers.get((t["from"], t["to"]))
        beats = manifest["moods"][t["to"]]["beats_per_bar"]
        fields = {"fade_beats": float(beats), "fade_mode": FADE_CROSS if filler is None else FADE_DISABLED,
                  "from_time": FROM_NEXT_BAR, "to_time": TO_START}
        if filler is not None:
            fields |= {"use_filler_clip": "true", "filler_clip": filler}
        inner = ", ".join(f'"{k}": {v}' for k, v in fields.items())
        entries.append(f"Vector2i({a}, {b}): {{{inner}}}")
    body.append("_transitions = {\n" + ",\n".join(entries) + "\n}")
    return _resource("AudioStreamInteractive", files, body), unfilled


def synchronized_stream(mood: dict) -> str:
    """An ``AudioStreamSynchronized`` of one mood's layers, every layer at 0 dB."""
    files = [layer["file"] for layer in mood["layers"]]
    body = [f"stream_count = {len(files)}"]
    for i in range(len(files)):
        body += [f'stream_{i}/stream = ExtResource("{i + 1}")', f"stream_{i}/volume = 0.0"]
    return _resource("AudioStreamSynchronized", files, body)


def _import(loop: bool, bpm: float, beats: int, bar_beats: int) -> bytes:
    return ("[remap]\n\nimporter=\"oggvorbisstr\"\ntype=\"AudioStreamOggVorbis\"\n\n[params]\n\n"
            f"loop={'true' if loop else 'false'}\nloop_offset=0.0\nbpm={bpm:.4f}\nbeat_count={beats}\n"
            f"bar_beats={bar_beats}\n").encode()


def write_godot(out: Path, manifest: dict) -> list[tuple[str, str]]:
    """Write ``music.tres``, ``<mood>_layers.tres`` and (for OGG) the import settings;
    return the transitions left without a filler clip."""
    text, unfilled = interactive_stream(manifest)
    atomic_write(out / "music.tres", text.encode())
    if unfilled:
        log.warning("Godot holds %d clips: %d transitions crossfade over one bar instead of playing their "
                    "filler clip (the first is %s -> %s)", MAX_CLIPS, len(unfilled), *unfilled[0])
    ogg = manifest["render"]["format"] == "ogg"
    for name, mood in manifest["moods"].items():
        if mood["layers"]:  # a MusicGen build has none: its loops are in music.tres
            atomic_write(out / f"{name}_layers.tres", synchronized_stream(mood).encode())
        if not ogg:
            continue
        beats = mood["bars"] * mood["beats_per_bar"]
        for entry in [mood["loop"]] + mood["layers"]:
            atomic_write(out / (entry["file"] + ".import"), _import(True, mood["bpm"], beats, mood["beats_per_bar"]))
        for entry in mood["stingers"].values():
            atomic_write(out / (entry["file"] + ".import"), _import(False, mood["bpm"], 0, mood["beats_per_bar"]))
    if ogg:
        for t in manifest["transitions"]:
            bar_beats = manifest["moods"][t["to"]]["beats_per_bar"]
            atomic_write(out / (t["file"] + ".import"), _import(False, t["bpm"], t["beats"], bar_beats))
    return unfilled
