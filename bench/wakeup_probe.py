"""How late this machine wakes a real-time thread: the floor under any audio callback.

    python bench/wakeup_probe.py --seconds 60

A thread one step above the audio thread's FIFO priority sleeps 1 ms at a time and
prints each wake-up that comes more than --threshold-ms late, as
``<time.monotonic() when it went to sleep> <ms late>``, then a summary line.
``bench/playback.py --probe`` runs it beside playback to tell whether a device
underflow had the machine itself behind it: no setting of ours gives an audio
thread the CPU that the kernel or the hypervisor withholds.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from adaptive_music.playback.realtime import REALTIME_PRIORITY, ask_for_realtime  # noqa: E402

SLEEP = 0.001


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threshold-ms", type=float, default=5.0)
    args = ap.parse_args()
    ask_for_realtime(REALTIME_PRIORITY + 1)
    fifo = os.sched_getscheduler(0) == os.SCHED_FIFO
    policy = f"FIFO {os.sched_getparam(0).sched_priority}" if fifo else "ordinary priority (no real-time privilege)"
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    threshold = args.threshold_ms / 1000
    end = time.monotonic() + args.seconds
    wakeups, worst, late_total = 0, 0.0, 0.0
    while not stopped and time.monotonic() < end:
        asleep = time.monotonic()
        time.sleep(SLEEP)
        late = time.monotonic() - asleep - SLEEP
        wakeups += 1
        worst = max(worst, late)
        if late > threshold:
            late_total += late
            print(f"{asleep:.4f} {1000 * late:.1f}", flush=True)
    print(f"# {wakeups} wake-ups at {policy}, latest {1000 * worst:.1f} ms, "
          f"{1000 * late_total:.0f} ms late in all over {args.threshold_ms:g} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
