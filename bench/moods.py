"""Free-text mood figures (issue #12: free-text moods that work).

Prints, measured in this run:
- ordering accuracy on the evaluation set's held-out and tune halves, and the
  real texts refused, with the word table and without it (vocabulary and
  spelling only, as before the table), as ratios;
- keyboard mashes refused;
- parse_mood time per text on ONE core (pinned), cache cleared: p50, p99, max;
- cold start: loading the word table in a fresh process, and import + first parse;
- the table's package data size.

    python bench/moods.py
"""

from __future__ import annotations

import os

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # the last core: the first takes more interrupts

import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from adaptive_music.mood import text as mood_text  # noqa: E402
from adaptive_music.mood import wordtable  # noqa: E402
from adaptive_music.mood.evalset import load_eval, score  # noqa: E402
from adaptive_music.mood.text import MoodError, parse_mood  # noqa: E402

EVAL = load_eval(Path(__file__).resolve().parents[1] / "tests" / "data" / "mood_eval.toml")


def refused(texts: list[str]) -> list[str]:
    out = []
    for t in texts:
        try:
            parse_mood(t)
        except MoodError:
            out.append(t)
    return out


def figures(label: str) -> dict:
    mood_text._analyse.cache_clear()
    row = {}
    for half in ("held-out", "tune"):
        s = score(EVAL.half(half), parse_mood, MoodError)
        real = EVAL.real_texts(EVAL.half(half))
        row[half] = (s.right, s.total, len(refused(real)), len(real))
    row["texts"] = (len(refused(list(EVAL.texts))), len(EVAL.texts))
    row["nonsense"] = (len(refused(list(EVAL.nonsense))), len(EVAL.nonsense))
    print(f"{label}:")
    for half in ("held-out", "tune"):
        right, total, nref, nreal = row[half]
        print(f"  {half:<8} pairs ordered right {right}/{total} = {right / total:.1%};"
              f"  real texts refused {nref}/{nreal}")
    print(f"  more real texts (UI states, genres, names) refused {row['texts'][0]}/{row['texts'][1]};"
          f"  keyboard mashes refused {row['nonsense'][0]}/{row['nonsense'][1]}")
    return row


def parse_times(texts: list[str], rounds: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU milliseconds per parse, every cache cleared first: the bridge sees new texts."""
    wall, cpu = [], []
    for _ in range(rounds):
        for t in texts:
            mood_text._analyse.cache_clear()
            wordtable._neighbours.cache_clear()
            wordtable._entry.cache_clear()
            start, start_cpu = time.perf_counter(), time.thread_time()
            try:
                parse_mood(t)
            except MoodError:
                pass
            cpu.append(time.thread_time() - start_cpu)
            wall.append(time.perf_counter() - start)
    return np.array(wall) * 1e3, np.array(cpu) * 1e3


COLD = """
import time
t0 = time.perf_counter()
from adaptive_music.mood.wordtable import WordTable
t1 = time.perf_counter()
WordTable.load()
t2 = time.perf_counter()
from adaptive_music.mood.text import parse_mood
parse_mood("bar brawl erupts")
t3 = time.perf_counter()
print(t2 - t1, t3 - t0)
"""


def cold_start(runs: int = 7) -> tuple[float, float]:
    loads, firsts = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        load, first = map(float, out.stdout.split())
        loads.append(load * 1e3)
        firsts.append(first * 1e3)
    return float(np.median(loads)), float(np.median(firsts))


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, one core pinned")
    table = wordtable.word_table()
    print(f"word table: {len(table)} words, teacher {table.meta['teacher']}; "
          f"{wordtable.NEIGHBOURS} neighbours, temperature {wordtable.TEMPERATURE}, weight {wordtable.WEIGHT}")
    with_table = figures("with the word table")
    empty = wordtable.WordTable([], [], np.zeros((0, 1), np.uint16), np.zeros((0, 1), np.float16), {})
    real_table = wordtable.word_table
    mood_text.word_table = lambda: empty
    try:
        without = figures("without it (vocabulary, stems and close spellings only)")
    finally:
        mood_text.word_table = real_table
    (r1, t1, *_), (r0, t0, *_) = with_table["held-out"], without["held-out"]
    print(f"held-out accuracy with / without the table: {r1 / t1:.1%} / {r0 / t0:.1%} = {(r1 / t1) / (r0 / t0):.2f}x")

    texts = EVAL.real_texts() + list(EVAL.nonsense)
    wall, cpu = parse_times(texts)
    print(f"parse_mood per text, one core, caches cleared ({len(wall)} parses of {len(texts)} texts):")
    for name, ms in (("wall", wall), ("CPU ", cpu)):
        print(f"  {name} p50 {np.percentile(ms, 50):.3f} ms  p99 {np.percentile(ms, 99):.3f} ms  max {ms.max():.3f} ms"
              f"  (limit 2 ms: p99 at {np.percentile(ms, 99) / 2:.0%} of it)")
    print("  (wall includes time the core spent on other processes; CPU is this thread's own time)")
    load, first = cold_start()
    print(f"cold start, fresh process (median of 7): table load {load:.0f} ms (limit 200 ms: {load / 200:.0%});"
          f" import + first parse {first:.0f} ms")
    size = wordtable.TABLE_PATH.stat().st_size
    print(f"package data: {wordtable.TABLE_PATH.name} {size / 1e6:.2f} MB (limit 20 MB: {size / 20e6:.1%})")


if __name__ == "__main__":
    main()
