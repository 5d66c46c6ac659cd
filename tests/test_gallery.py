"""The listening gallery (examples/gallery.py) runs end to end: every mood with both
renderers to OGG, and one contact sheet of their spectrograms."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent


def test_gallery_renders_every_mood_with_both_renderers_and_a_contact_sheet(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "gallery.py"), str(tmp_path), "--seconds", "2"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr
    files = sorted(tmp_path.glob("*.ogg"))
    # CI installs a font, so both renderers play: 12 moods each.
    assert [f.stem.rsplit("-", 1)[1] for f in files] == ["builtin", "sampled"] * 12
    for f in files:
        audio, rate = soundfile.read(f)
        assert rate == 48000 and audio.shape == (2 * 48000, 2), f.name
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio ** 2)))
        assert -30 < rms_db < -10 and np.max(np.abs(audio)) < 1.05, f.name
    import matplotlib.image

    sheet = matplotlib.image.imread(tmp_path / "contact-sheet.png")
    assert sheet.shape[:2] == (1536, 960)  # 12 rows of spectrograms, 2 columns, at 80 dpi
    assert np.std(sheet[..., :3]) > 0.1  # drawn, not blank
