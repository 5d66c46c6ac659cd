"""The studio page in Debian's Chromium, driven by Playwright (never a downloaded browser)."""

import hashlib
import re
import shutil
import signal
import time

import numpy as np
import pytest
import soundfile

from adaptive_music.audio.wav import read_wav
from adaptive_music.bridge import Client, EngineStream
from adaptive_music.mood.maps import EXAMPLE, EventRule, load_mood_map
from adaptive_music.playback.feed import GeneratorSpec, render_controls

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install 'adaptive-music[studio]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (its browser comes from apt)")

from studio_process import Studio  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SR = 48000
MINUTE = 60
RECEIVED = """async () => {
  const { blocks, frames } = window.studio.received;
  const all = new Float32Array(2 * frames);
  let at = 0;
  for (const block of blocks) { all.set(block.pcm, at); at += block.pcm.length; }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all.buffer));
  return { position: blocks[0].position, frames, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
}"""  # what the page received first, as one SHA-256 (a minute of PCM is 23 MB)
FRAME_MS = 1000 / 60  # one display frame
PREROLL = 4800  # the player's 0.1 s of silence before the music (in the clocked sink's recording)
DEFAULT_MOOD = "calm exploration, soft strings"  # the studio's (and serve's) starting mood
# The studio's music with no controls: seed 0, that mood, sampled instruments where a font is installed.
PLAYED = GeneratorSpec("procedural", DEFAULT_MOOD, backend_options={"soundfont": "auto"})
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
            with Client(studio.commands, studio.events, timeout=10) as bridge, \
                    bridge.subscribe("beat", "mood") as heard:
                # Subscribed, and past the first beat (before it the tempo is unknown and a beat change starts at once).
                while (event := heard.recv(timeout=10)) is not None and event.data["sample"] == 0:
                    pass
                assert event is not None  # the bridge's events flow
                page.click("#events button[data-name=enemy_spotted]")
                after_click = _until_mood_start(heard)
            transition = page.wait_for_selector("#transitions li.mood-start", timeout=20_000)
            assert SHIPPED.moods["combat"] in transition.text_content()
            start = after_click[-1]["sample"]
            assert page.evaluate("window.studio.lastMoodStart.sample") == start  # the page shows the bridge's start
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
            # The form edits one entry: a bad value is refused inline as serve refuses it, the file untouched ...
            before = studio.map.read_text()
            page.select_option("#entry-table", "events")
            for field, value in (("name", "ambush"), ("mood", "stealth"), ("ramp", "1"), ("intensity", "1.5"),
                                 ("stinger", "danger")):
                page.fill(f"#entry-{field}", value)
            page.select_option("#entry-quantize", "beat")
            page.click("#entry-save")
            error = page.wait_for_selector("#map-error:not(:empty)").text_content()
            assert re.fullmatch(rf"{re.escape(str(studio.map))}:\d+: \[events\.ambush\] intensity: .+", error)
            assert studio.map.read_text() == before
            # ... a good one is saved with the rest of the file as it was, and its button works at once.
            page.fill("#entry-intensity", "0.6")
            page.click("#entry-save")
            page.wait_for_selector("#events button[data-name=ambush]")
            assert studio.map.read_text().startswith(before)
            assert load_mood_map(studio.map).events["ambush"] == EventRule(
                mood=SHIPPED.moods["stealth"], quantize="beat", ramp=1.0, intensity=0.6, stinger=SHIPPED.stingers["danger"])
            page.select_option("#entry-table", "moods")
            page.fill("#entry-name", "victory")
            page.dispatch_event("#entry-name", "change")
            assert page.input_value("#entry-text") == SHIPPED.moods["victory"]  # an entry's values, to change
            page.fill("#entry-text", "quiet harp, gentle relief")
            page.click("#entry-save")
            page.wait_for_function("window.studio.map.moods.victory === 'quiet harp, gentle relief'")
            lines = studio.map.read_text().splitlines()
            assert lines == [line.replace(SHIPPED.moods["victory"], "quiet harp, gentle relief")
                             for line in before.splitlines()] + lines[len(before.splitlines()):]  # in place
            page.click("#events button[data-name=studio_test]")  # its mood is the edited victory
            page.wait_for_selector("#transitions li.mood-start:has-text('quiet harp, gentle relief')", timeout=20_000)
            # Stems of the map, previewed: every mood's loop and every transition, playable here.
            page.fill("#stems-bars", "1")
            page.click("#stems-build")
            page.wait_for_selector("#stems-status:has-text('loops')", timeout=120_000)
            moods = load_mood_map(studio.map).moods
            assert page.locator("#stems .stem-loop").count() == len(moods)
            assert page.locator("#stems .stem-transition").count() == len(moods) * (len(moods) - 1)
            loaded = page.evaluate("""async () => {
              const audio = document.querySelector("#stems .stem-loop audio");
              audio.preload = "auto";
              await new Promise((ok, fail) => { audio.onloadedmetadata = ok; audio.onerror = fail; audio.load(); });
              return audio.duration;
            }""")
            assert loaded > 0.5  # the browser decodes the loop: a bar or more
            # What has played so far, rendered and downloaded, as WAV and as OGG.
            downloads, playheads = {}, {}
            with Client(studio.commands, studio.events, timeout=10) as bridge:
                for fmt in ("wav", "ogg"):
                    before = bridge.status()["playhead"]
                    with page.expect_download(timeout=60_000) as download:
                        page.click(f"#render-{fmt}")
                    playheads[fmt] = (before, bridge.status()["playhead"])
                    downloads[fmt] = tmp_path / f"timeline.{fmt}"
                    download.value.save_as(downloads[fmt])
                underruns = bridge.status()["underruns"]
            # A script of events, rendered: enemy_spotted where the live soundtrack got it, up to the
            # next control call it got, is what the sink played (checked below).
            played = studio.json("GET", "/api/timeline")[1]["controls"]
            spotted = played[0]["position"]
            assert played[0]["args"][0] == SHIPPED.moods["combat"]
            upto = next(c["position"] for c in played if c["position"] > spotted)
            page.fill("#script", "# what the game did\nnonsense\n")
            page.click("#script-wav")
            page.wait_for_selector("#script-status:has-text('script line 2')")
            page.fill("#script", "1 no_such_event")
            page.click("#script-wav")
            page.wait_for_selector("#script-status:has-text(\"event 'no_such_event' is not in the mood map\")")
            page.fill("#script", f"{spotted / SR!r} enemy_spotted")
            page.fill("#script-seconds", repr(upto / SR))
            with page.expect_download(timeout=60_000) as download:
                page.click("#script-wav")
            downloads["script"] = tmp_path / "script.wav"
            download.value.save_as(downloads["script"])
            # "Listen here" on a studio that plays through its own output: the bridge's reason, and Listen again.
            page.click("#listen")
            page.wait_for_selector("#browser-audio:has-text('start `adaptive-music serve --output engine`')")
            assert page.is_enabled("#listen")
            assert not errors, errors
            browser.close()
    finally:
        code, _ = studio.stop()
    assert code == 0
    _starts_on_the_next_beat(after_click, start)
    # The clocked sink's recording: the music without the change up to that beat, changed from there.
    recorded_all, rate = read_wav(studio.recording)
    assert rate == SR
    unchanged = render_controls(PLAYED.build(), [], start + SR)
    changed = np.flatnonzero(np.any(recorded_all[PREROLL: PREROLL + start + SR] != unchanged, axis=1))
    assert changed.size and changed[0] == start
    # The downloads: real WAV and OGG files of the music played until the click, the WAV sample
    # for sample what the sink played (the recording), the OGG its Vorbis encoding.
    recorded = recorded_all[PREROLL:]
    for fmt, kind in (("wav", ("WAV", "FLOAT")), ("ogg", ("OGG", "VORBIS"))):
        info = soundfile.info(downloads[fmt])
        assert (info.format, info.subtype) == kind and info.samplerate == SR and info.channels == 2
        before, after = playheads[fmt]
        assert before * SR - 1 <= info.frames <= after * SR + 1  # up to the playhead at the click
    timeline, _ = soundfile.read(downloads["wav"], dtype="float32")
    assert len(timeline) > start + SR  # through the enemy_spotted change and on
    differs = np.flatnonzero(np.any(timeline != recorded[: len(timeline)], axis=1))
    if differs.size:
        # The generator fell behind the sink's clock (a loaded machine; the stems preview renders beside
        # the music): the recording fades into silence there and leaves the render. That must have been
        # counted and reported, and only after the change and the script's stretch, which are checked.
        assert underruns > 0, f"the download differs from what was played at sample {differs[0]}, no underrun"
        assert differs[0] > max(start + SR, upto), f"the download differs from what was played at {differs[0]}"
    script, _ = soundfile.read(downloads["script"], dtype="float32")
    assert len(script) == upto
    np.testing.assert_array_equal(script, recorded[:upto])
    vorbis, _ = soundfile.read(downloads["ogg"], dtype="float32")
    n = min(len(vorbis), len(timeline))  # the OGG was rendered later, so is longer
    error = vorbis[:n] - timeline[:n]
    assert 10 * np.log10(np.mean(timeline[:n] ** 2) / np.mean(error ** 2)) > 15  # dB: the same music


def _until_mood_start(subscription, seconds: float = 20.0) -> list[dict]:
    """The beats and the mood ``start`` a subscription gets, up to that start (the start last)."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        event = subscription.recv(timeout=deadline - time.monotonic())
        if event is not None and (event.topic == "beat" or event.data.get("phase") == "start"):
            got.append({"topic": event.topic, **event.data})
            if event.topic == "mood":
                return got
    raise AssertionError(f"no mood start within {seconds} s; got {got}")


def _starts_on_the_next_beat(events: list[dict], start: int) -> None:
    beats = [e["sample"] for e in events if e["topic"] == "beat"]
    assert events[-1]["text"] == SHIPPED.moods["combat"] and events[-1]["intensity"] == pytest.approx(0.7)
    assert start in beats  # on a beat ...
    assert beats.index(start) <= 1  # ... the next one after the click (one may have been on its way)
    assert events[-2]["topic"] == "beat" and events[-2]["sample"] == start  # at one sample: the beat first


def test_browser_audio_pulls_the_engine_output_and_counts_underruns(tmp_path):
    """The page's AudioWorklet pulls the soundtrack (``--output engine``) on the browser's audio clock;
    beats are drawn as they are heard, the level meter follows the music, and a stalled server
    shows up as worklet underruns on the page, playback resuming after it."""
    studio = Studio(tmp_path, engine=True)
    try:
        with sync_api.sync_playwright() as playwright:
            browser, page = _listening(playwright, studio)
            page.wait_for_function("window.studio.audio && window.studio.audio.played > 0", timeout=20_000)
            page.wait_for_timeout(3000)
            playing = _meter(page, seconds=1.0)
            page.click("#pause")  # the engine output hands out silence, its position going on
            page.wait_for_timeout(1500)  # the worklet's buffer (0.5 s) plays out
            paused = _meter(page, seconds=1.0)
            page.click("#resume")
            page.wait_for_timeout(1000)
            beat_times = page.evaluate("[...window.studio.beats.values()]")
            before = page.evaluate("window.studio.audio")
            studio.process.send_signal(signal.SIGSTOP)  # the server stalls for longer than the worklet's buffer
            time.sleep(2.0)
            studio.process.send_signal(signal.SIGCONT)
            page.wait_for_function(f"window.studio.audio.played > {before['played']} + 48000", timeout=20_000)
            after = page.evaluate("window.studio.audio")
            shown = page.locator("#browser-audio").text_content()
            opened = page.evaluate("window.studio.audioOpen")
            head = page.evaluate(RECEIVED)
            with Client(studio.commands, studio.events, timeout=10) as bridge:
                status = bridge.status()
            beats = page.evaluate("window.studio.beatsDrawn")
            # Another page (or an engine) takes the music over: this page says why it stopped, and
            # "Listen here" takes the music back.
            with EngineStream(studio.commands, SR) as other:
                other.pull(1024)
                page.wait_for_selector("#listen:not([disabled])", timeout=10_000)
                taken = page.locator("#browser-audio").text_content()
            page.click("#listen")
            page.wait_for_function(f"window.studio.audio && window.studio.audio.played >= {SR}", timeout=20_000)
            again = page.evaluate("window.studio.audio")
            browser.close()
    finally:
        studio.stop()
    assert opened["sample_rate"] == 48000 and opened["channels"] == 2
    assert before["played"] >= 48000 * 2  # seconds of music played on the browser's clock
    assert after["underruns"] > before["underruns"]  # the stall was heard as underruns, and counted ...
    assert int(re.search(r"underruns (\d+)", shown).group(1)) >= after["underruns"] > 0  # ... and shown
    assert after["gaps"] == 0  # every block started where the last ended: nothing lost, nothing skipped
    # The PCM the page received is the soundtrack's own stream: seed 0, the default mood, no controls.
    _received_the_offline_render(head, SR)
    assert status["output"] == "engine" and status["position"] >= after["received"]
    assert beats > 0  # the beat grid still comes from the bridge's events
    assert "another connection sent the latest audio_open" in taken
    assert again["gaps"] == 0
    # The level meter moves while music plays and is flat on silence.
    assert min(playing) > 0.001 and len(set(playing)) > 3
    assert set(paused) == {0.0}
    # A beat comes up to the worklet's buffer before it is heard; it is drawn when it is heard.
    heard = [b for b in beat_times if "heard" in b and "drawn" in b]
    assert len(heard) >= 4
    assert np.median([b["heard"] - b["arrived"] for b in heard]) > 100  # ms early: held back, not drawn at once
    late = np.abs([b["drawn"] - b["heard"] for b in heard])
    device_ms = 1000 * (before["outputLatency"] + before["baseLatency"])
    assert np.median(late) < FRAME_MS  # drawn within a display frame of being heard (bench: the spread) ...
    assert np.percentile(late, 90) < FRAME_MS + device_ms  # ... and inside the bound


def test_browser_audio_plays_a_minute_without_underruns(tmp_path):
    """A minute of the engine output in the page, on the browser's clock: no worklet underrun, no gap,
    and the PCM it received is the soundtrack's stream, sample for sample."""
    studio = Studio(tmp_path, engine=True)
    try:
        with sync_api.sync_playwright() as playwright:
            browser, page = _listening(playwright, studio, keep_frames=MINUTE * SR)
            page.wait_for_function(f"window.studio.audio && window.studio.audio.played >= {MINUTE * SR}",
                                   timeout=(MINUTE + 30) * 1000, polling=500)
            audio = page.evaluate("window.studio.audio")
            received = page.evaluate(RECEIVED)
            with Client(studio.commands, studio.events, timeout=10) as bridge:
                status = bridge.status()
            browser.close()
    finally:
        studio.stop()
    assert audio["underruns"] == 0 and audio["gaps"] == 0
    assert status["underruns"] == 0  # nor did the engine output wait in vain for the generator
    _received_the_offline_render(received, MINUTE * SR)


def _listening(playwright, studio: Studio, keep_frames: int = SR):
    """Chromium on the studio's page, playing the music there ("Listen here"), keeping the
    first ``keep_frames`` it receives; (browser, page)."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{studio.port}/")
    page.evaluate(f"window.studio.received.keepFrames = {keep_frames}")
    page.click("#listen")
    return browser, page


def _received_the_offline_render(received: dict, frames: int) -> None:
    """The PCM the page received first is the soundtrack's own stream: seed 0, the default mood, no controls."""
    assert received["position"] == 0 and received["frames"] >= frames
    expected = render_controls(PLAYED.build(), [], received["frames"])
    assert received["sha256"] == hashlib.sha256(expected.astype("<f4").tobytes()).hexdigest()


def _meter(page, seconds: float) -> list[float]:
    """The level meter's RMS, read every 50 ms for ``seconds``."""
    readings = []
    for _ in range(round(seconds / 0.05)):
        readings.append(float(page.locator("#level").get_attribute("data-rms")))
        page.wait_for_timeout(50)
    return readings
