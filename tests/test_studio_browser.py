"""The studio page in Debian's Chromium, driven by Playwright (never a downloaded browser)."""

import re
import shutil
import signal
import time

import numpy as np
import pytest

from adaptive_music.bridge import Client
from adaptive_music.mood.maps import EXAMPLE, load_mood_map
from adaptive_music.playback.feed import GeneratorSpec, render_controls

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install 'adaptive-music[studio]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (its browser comes from apt)")

from studio_process import Studio  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DEFAULT_MOOD = "calm exploration, soft strings"  # the studio's (and serve's) starting mood
SHIPPED = load_mood_map(EXAMPLE)

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                reason=f"{CHROMIUM} is absent: apt-get install chromium (scripts/install-test-deps.sh)")


def test_page_auditions_watches_and_edits_in_chromium(tmp_path):
    studio = Studio(tmp_path)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{studio.port}/")
            # Every event, mood and stinger of the shipped map is a button.
            page.wait_for_selector("#events button")
            for container, names in (("events", SHIPPED.events), ("moods", SHIPPED.moods),
                                     ("stingers", SHIPPED.stingers)):
                shown = page.locator(f"#{container} button").all_text_contents()
                assert sorted(shown) == sorted(names)
            # Beats from the bridge are drawn on the timeline.
            page.wait_for_function("window.studio.beatsDrawn > 0", timeout=20_000)
            assert int(page.locator("#timeline").get_attribute("data-beats-drawn")) > 0
            # A click fires the event as a game would; its mood start shows up.
            page.click("#events button[data-name=enemy_spotted]")
            start = page.wait_for_selector("#transitions li.mood-start", timeout=20_000)
            assert SHIPPED.moods["combat"] in start.text_content()
            # The free-text box shows explain-mood's reading, unknown words included.
            page.fill("#mood-text", "grim zorp strings")
            page.wait_for_selector("#explain .unknown:has-text('zorp')")
            assert "valence" in page.locator("#explain").text_content()
            # The slider sets the intensity (read back over the bridge).
            page.locator("#intensity").fill("0.25")
            with Client(studio.commands, studio.events, timeout=10) as bridge:
                page.wait_for_function("document.querySelector('#status tr[data-key=intensity] td:last-child')"
                                       "?.textContent === '0.25'", timeout=20_000)
                assert bridge.status()["intensity"] == pytest.approx(0.25)
            # An invalid edit is refused inline, the file untouched.
            before = studio.map.read_bytes()
            page.fill("#map-text", before.decode().replace('ramp = 0.5\nintensity = 0.7', 'ramp = -1\nintensity = 0.7'))
            page.click("#save")
            error = page.wait_for_selector("#map-error:not(:empty)").text_content()
            assert f"{studio.map}:" in error and "[events.enemy_spotted] ramp" in error
            assert studio.map.read_bytes() == before
            # A valid edit is saved, and its new event is a button that works at once.
            edited = before.decode() + '\n[events.studio_test]\nmood = "victory"\nquantize = "now"\n'
            page.fill("#map-text", edited)
            page.click("#save")
            page.wait_for_selector("#map-saved:not(:empty)")
            assert studio.map.read_text() == edited
            page.click("#events button[data-name=studio_test]")
            page.wait_for_selector(f"#transitions li.mood-start:has-text('{SHIPPED.moods['victory']}')", timeout=20_000)
            assert not errors, errors
            browser.close()
    finally:
        studio.stop()


def test_browser_audio_pulls_the_engine_output_and_counts_underruns(tmp_path):
    """The page's AudioWorklet pulls the soundtrack (``--output engine``) on the browser's audio clock;
    a stalled server shows up as worklet underruns on the page, and playback resumes after it."""
    studio = Studio(tmp_path, engine=True)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{studio.port}/")
            page.click("#listen")
            page.wait_for_function("window.studio.audio && window.studio.audio.played > 0", timeout=20_000)
            page.wait_for_timeout(3000)
            before = page.evaluate("window.studio.audio")
            studio.process.send_signal(signal.SIGSTOP)  # the server stalls for longer than the worklet's buffer
            time.sleep(2.0)
            studio.process.send_signal(signal.SIGCONT)
            page.wait_for_function(f"window.studio.audio.played > {before['played']} + 48000", timeout=20_000)
            after = page.evaluate("window.studio.audio")
            shown = page.locator("#browser-audio").text_content()
            opened = page.evaluate("window.studio.audioOpen")
            head = page.evaluate("window.studio.audioHead.blocks")
            with Client(studio.commands, studio.events, timeout=10) as bridge:
                status = bridge.status()
            beats = page.evaluate("window.studio.beatsDrawn")
            browser.close()
    finally:
        studio.stop()
    assert opened["sample_rate"] == 48000 and opened["channels"] == 2
    assert before["played"] >= 48000 * 2  # seconds of music played on the browser's clock
    assert after["underruns"] > before["underruns"]  # the stall was heard as underruns, and counted ...
    assert int(re.search(r"underruns (\d+)", shown).group(1)) >= after["underruns"] > 0  # ... and shown
    assert after["gaps"] == 0  # every block started where the last ended: nothing lost, nothing skipped
    # The PCM the page received is the soundtrack's own stream: seed 0, the default mood, no controls.
    spec = GeneratorSpec("procedural", DEFAULT_MOOD, backend_options={"soundfont": "auto"})  # as the studio plays
    expected = render_controls(spec.build(), [], 2 * 48000)
    assert head[0]["position"] == 0 and sum(len(b["samples"]) for b in head) >= 2 * 48000
    for block in head:
        pcm = np.asarray(block["samples"], np.float32).reshape(-1, 2)
        np.testing.assert_array_equal(pcm, expected[block["position"]: block["position"] + len(pcm)])
    assert status["output"] == "engine" and status["position"] >= after["received"]
    assert beats > 0  # the beat grid still comes from the bridge's events
