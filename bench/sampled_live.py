"""Live playback with sampled instruments: underruns when moods change (issue 15).

Plays a Soundtrack into the clocked file sink (a real-time stand-in for a sound
device, generator in its own process as ``play`` runs it) with the built-in
synthesizer and with a SoundFont, changing mood every few seconds through
moods not heard before, half of them "now" and half on the next beat, and
prints the ring underruns, device underflows, how long the worst "now" change
took to be heard, and whether the recording equals the offline render of the
same control calls sample for sample.

    python bench/sampled_live.py [--seconds 40] [--every 4] [--ahead 0.05]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from adaptive_music.audio import wav
from adaptive_music.playback.device import ClockedFileSink
from adaptive_music.playback.feed import render_controls
from adaptive_music.playback.soundtrack import Soundtrack

MOODS = ("intense orchestral boss battle", "sad solo piano", "fast techno drums", "happy folk tavern dance",
         "epic choir chanting", "harp lullaby", "acoustic guitar by the campfire", "gentle flute melody",
         "melancholy string quartet", "chiptune adventure", "tense stealth in the dark", "victory fanfare")


def run(soundfont: str, seconds: float, every: float, ahead: float, folder: Path) -> None:
    path = folder / f"{soundfont}.wav"
    music = Soundtrack(seed=7, mood="calm forest at dawn, soft strings", sink=ClockedFileSink(path),
                       seconds=seconds, record_controls=True, ahead=ahead, soundfont=soundfont)
    latencies = []
    with music:
        moods = iter(MOODS * 4)
        next_change = every
        while not music.wait(0.02):
            status = music.status()
            if status["playhead"] >= next_change and status["playhead"] < seconds - every / 2:
                transition = "now" if int(next_change / every) % 2 else "beat"
                text = next(moods)
                asked = time.monotonic()
                heard = []
                music.on_transition(lambda t, heard=heard: heard.append(t.time) if t.phase == "start" else None)
                music.set_mood(text, transition=transition)
                if transition == "now":
                    latencies.append((asked, heard))
                next_change += every
        status = music.status()
    waits = [1000 * (h[0] - a) for a, h in latencies if h]
    changes = ", ".join(f"{c.position / 48000:.2f} s" for c in music.controls())
    recorded, rate = wav.read_wav(path)
    frames, preroll = int(seconds * rate), int(0.1 * rate)
    reference = render_controls(music.spec.build(), music.controls(), frames)
    live = recorded[preroll : preroll + frames]
    differ = np.flatnonzero(np.any(live != reference[: len(live)], axis=1))
    same = "True" if len(differ) == 0 and len(live) == len(reference) else f"False (from {differ[0] / rate:.2f} s)"
    print(f"{status['renderer'] or soundfont:>8}: {seconds:.0f} s, {len(music.controls())} mood changes; "
          f"ring underruns {status['underruns']}, device underflows {status['output_underflows']}, "
          f"silence {status['lost_seconds'] * 1000:.0f} ms; 'now' change heard after p50 "
          f"{np.median(waits):.0f} ms, max {max(waits):.0f} ms (n={len(waits)}); live == offline: {same}; "
          f"changes at {changes}"
          + (f"; fallback: {status['fallback']}" if status["fallback"] else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--every", type=float, default=4.0, help="seconds between mood changes")
    ap.add_argument("--ahead", type=float, default=0.05, help="seconds generated ahead (play's default)")
    ap.add_argument("--soundfonts", default="none,auto")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for soundfont in args.soundfonts.split(","):
            run(soundfont, args.seconds, args.every, args.ahead, Path(tmp))


if __name__ == "__main__":
    main()
