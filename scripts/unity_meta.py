"""Write the Unity .meta files the UPM packages in bridge/ need.

Unity ignores every file and folder without a .meta file in a package installed from a
git URL (such packages are read-only), so each asset in bridge/dotnet and bridge/unity
ships one. The GUID is derived from the path, so rerunning this changes nothing; only new
files get new .meta files. Folders ending in ~ and hidden files are not imported by Unity
and get none.

    python scripts/unity_meta.py          # write missing .meta files, remove orphaned ones
    python scripts/unity_meta.py --check  # list missing or stale ones, exit 1 if any
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "bridge" / "dotnet", ROOT / "bridge" / "unity"]

_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n" + _TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + _TAIL,
    ".md": "TextScriptImporter:\n  externalObjects: {}\n" + _TAIL,
    ".json": "TextScriptImporter:\n  externalObjects: {}\n" + _TAIL,
}
_PACKAGE_MANIFEST = "PackageManifestImporter:\n  externalObjects: {}\n" + _TAIL
_DEFAULT = "DefaultImporter:\n  externalObjects: {}\n" + _TAIL


def assets(package: Path) -> list[Path]:
    """Files and folders of ``package`` that Unity imports (so need a .meta), sorted."""
    found = []
    for path in sorted(package.rglob("*")):
        parts = path.relative_to(package).parts
        if any(p.startswith(".") or p.endswith("~") for p in parts) or path.suffix == ".meta":
            continue
        found.append(path)
    return found


def meta_text(path: Path) -> str:
    guid = hashlib.md5(("adaptive-music/" + path.relative_to(ROOT).as_posix()).encode()).hexdigest()
    if path.is_dir():
        body = "folderAsset: yes\n" + _DEFAULT
    elif path.name == "package.json":
        body = _PACKAGE_MANIFEST
    else:
        body = _IMPORTERS.get(path.suffix, _DEFAULT)
    return f"fileFormatVersion: 2\nguid: {guid}\n{body}"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    wrong = []
    for package in PACKAGES:
        for path in assets(package):
            meta = path.with_name(path.name + ".meta")
            text = meta_text(path)
            if meta.is_file() and meta.read_text() == text:
                continue
            if check:
                wrong.append(meta.relative_to(ROOT).as_posix())
            else:
                meta.write_text(text)
        for meta in sorted(package.rglob("*.meta")):
            if not meta.with_name(meta.name[: -len(".meta")]).exists():
                if check:
                    wrong.append(meta.relative_to(ROOT).as_posix())
                else:
                    meta.unlink()
    for name in wrong:
        print(f"missing or stale: {name} (run python scripts/unity_meta.py)")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
