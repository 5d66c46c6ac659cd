"""Render a level's music offline: calm exploration, then a boss fight on the next bar."""

from adaptive_music import MoodChange, load_backend, render
from adaptive_music.audio import write_wav

clip = render(load_backend("procedural"), "calm exploration, soft strings", 30, seed=3,
              changes=[MoodChange(15, "intense boss battle, choir, brass", transition="bar", ramp=2.0)])
write_wav("level.wav", clip.audio, clip.sample_rate, subtype="pcm16")
print(f"wrote level.wav: {len(clip.audio) / clip.sample_rate:.0f} s, {len(clip.markers)} beats, "
      f"first bar of the boss fight at {next(m.sample for m in clip.markers if m.sample >= 15 * 48000 and m.beat == 0) / 48000:.2f} s")
