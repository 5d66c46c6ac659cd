"""A stealth level's music steered live from game code, with bar callbacks.

Plays on the default sound device; without one it records the same live
session to stealth.wav in real time.
"""

import time

from adaptive_music import Soundtrack
from adaptive_music.playback import ClockedFileSink, NoAudioDeviceError

try:
    music = Soundtrack(seed=1, mood="exploring a quiet cave")
except NoAudioDeviceError:
    print("no sound device: recording to stealth.wav instead")
    music = Soundtrack(seed=1, mood="exploring a quiet cave", sink=ClockedFileSink("stealth.wav"))

with music:
    music.on_bar(lambda beat: print(f"bar {beat.bar + 1} at {beat.bpm:.0f} bpm"))
    music.set_intensity(0.3)
    time.sleep(6)
    music.set_mood("tense stealth, low strings, sparse percussion", transition="bar", ramp=2.0)
    time.sleep(6)
    music.set_mood("ambush! fast drums", transition="beat")
    music.stinger("danger")
    time.sleep(6)
    print(music.status())
