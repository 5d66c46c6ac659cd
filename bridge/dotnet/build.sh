#!/usr/bin/env bash
# Compile the C# core (Runtime/*.cs) into AdaptiveMusic.Bridge.dll and the console harness
# into harness.exe, with Debian's mono-mcs, at the language level Unity accepts.
#   bash bridge/dotnet/build.sh OUTDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTDIR}"
mkdir -p "$out"
# C# 7.2 is mcs's newest level and is accepted by every Unity since 2018.3 (C# 7.3); -warnaserror keeps it clean.
flags=(-langversion:7.2 -warnaserror+ -nologo -r:System.dll -r:System.Core.dll)
mcs "${flags[@]}" -target:library -out:"$out/AdaptiveMusic.Bridge.dll" "$here"/Runtime/*.cs
mcs "${flags[@]}" -target:exe -out:"$out/harness.exe" -r:"$out/AdaptiveMusic.Bridge.dll" "$here"/Harness~/*.cs
