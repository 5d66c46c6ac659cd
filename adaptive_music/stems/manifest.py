"""``manifest.json``: what a stems build holds, for engines and for re-runs.

The manifest lists every mood with its tempo, meter, bars, key, loop points,
layers (and the intensity each enters at) and stingers, every transition
(from, to, file, quantize, bar lines), the render parameters and seed, and
each file's content hash. ``manifest.schema.json`` (JSON Schema draft
2020-12) is written beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from .files import atomic_write

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
SCHEMA_NAME = "manifest.schema.json"
SCHEMA_PATH = Path(__file__).with_name(SCHEMA_NAME)


def write_manifest(out: Path, body: dict) -> dict:
    """Write the manifest (with ``schema_version``) and its schema into ``out``, atomically."""
    manifest = {"schema_version": SCHEMA_VERSION, "generator": "adaptive-music stems", **body}
    atomic_write(out / MANIFEST_NAME, json.dumps(manifest, indent=1).encode())
    atomic_write(out / SCHEMA_NAME, SCHEMA_PATH.read_bytes())
    return manifest


def load_manifest(folder: Path) -> dict:
    """Read ``folder``'s manifest; ValueError if missing, unreadable or of another schema version."""
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path} is not a stems manifest of schema version {SCHEMA_VERSION}")
    return manifest


def load_entries(path: Path) -> dict[str, dict]:
    """Every file entry of an earlier manifest at ``path``, by relative file name ({} if none)."""
    try:
        manifest = load_manifest(path.parent)
    except ValueError:
        return {}
    out: dict[str, dict] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str) and "sha256" in node and "input" in node:
                out[node["file"]] = {k: v for k, v in node.items() if k in ("file", "sha256", "input", "samples")}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(manifest)
    return out


__all__ = ["MANIFEST_NAME", "SCHEMA_NAME", "SCHEMA_PATH", "SCHEMA_VERSION", "load_entries", "load_manifest",
           "write_manifest"]
