"""Studio figures (issue 14: a studio in the browser).

Prints, measured in this run, with the page in Debian's headless Chromium (Playwright):

With one ``adaptive-music studio --no-audio --record`` process (its clocked file sink):
- page load to first beat drawn (navigation start to the first beat line the
  timeline draws, from the page's own clock), over fresh page loads;
- click to first changed sample heard: a button click in the page until the
  sink plays the first sample the change alters, against the same kind of
  change sent as a bridge ``event`` by a Python client. Both use events with
  quantize "now", alternating, so the beat grid does not enter. A trial's
  changed sample is where the sink's recording first differs from the offline
  render of the controls before it (the studio lists the soundtrack's controls
  at /api/timeline; the recording is checked to equal the render of all of
  them). When the sink plays it comes from the sink's clock: recording sample ``i`` is due at
  ``t0 + i / rate``, and ``t0`` is the earliest beat event's arrival less the
  beat's position (the bridge publishes each beat as the sink takes it). The
  page's clock is mapped onto ``time.monotonic`` by the closest of 20 round trips;
- where the page draws a beat against when the sink plays it.

With a second studio, ``--output engine``, the page's AudioWorklet pulling:
- worklet underruns and position gaps over ``--listen`` seconds;
- latency: the worklet's buffer (sampled each second) plus the AudioContext's
  base and output latency;
- where the page draws a beat against when the worklet plays it (both on the
  page's clock; the output latency the browser reports is added to each).

    python bench/studio.py [--loads 5] [--trials 20] [--listen 60] [--buffer 0.5] [--skip-clicks]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from studio_process import Studio  # noqa: E402

from adaptive_music.audio.wav import read_wav  # noqa: E402
from adaptive_music.bridge import Client  # noqa: E402
from adaptive_music.playback.feed import Control, GeneratorSpec, render_controls  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
NOW_EVENTS = ("game_start", "player_died")  # both change the mood with quantize "now"
DEFAULT_MOOD = "calm exploration, soft strings"  # the studio's starting mood
PREROLL = 4800  # the player's 0.1 s of silence at the start of the recording

CLICK = """(name) => {
  const at = performance.timeOrigin + performance.now();
  document.querySelector(`#events button[data-name=${name}]`).click();
  return at;
}"""
DRAWN = "[...window.studio.beats.entries()].filter(([s, b]) => b.drawn).map(([s, b]) => [s, performance.timeOrigin + b.drawn])"


class Heard:
    """The bridge's events as they arrive (``time.monotonic``), on a listener thread."""

    def __init__(self, client: Client) -> None:
        self.events: list[tuple[float, str, dict]] = []
        self._lock = threading.Lock()
        self._listener = client.listen(self._arrived, "beat", "mood")

    def _arrived(self, event) -> None:
        with self._lock:
            self.events.append((time.monotonic(), event.topic, event.data))

    def mood_start_after(self, t: float, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for at, topic, data in self.events:
                    if at > t and topic == "mood" and data["phase"] == "start":
                        return data
            time.sleep(0.002)
        raise TimeoutError("no mood start")

    def sink_origin(self, rate: int) -> float:
        """``t0``: when the sink plays stream sample 0 (the beats' earliest arrival less their position)."""
        with self._lock:
            return min(at - data["sample"] / rate for at, topic, data in self.events if topic == "beat")

    def stop(self) -> None:
        self._listener.stop()


def page_to_monotonic(page) -> float:
    """Seconds to add to the page's clock (``performance.timeOrigin + now()``, in s) for ``time.monotonic``."""
    best = (float("inf"), 0.0)
    for _ in range(20):
        before = time.monotonic()
        at = page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.monotonic()
        best = min(best, (after - before, (before + after) / 2 - at))
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--listen", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--buffer", type=float, default=0.5, metavar="SECONDS", help="the worklet's buffer (page ?buffer=)")
    parser.add_argument("--skip-clicks", action="store_true", help="only the browser-audio run")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    if not args.skip_clicks:
        _clicks(args.loads, args.trials)
    _listen(args.listen, args.buffer)


def _clicks(loads: int, trials: int) -> None:
    """Page loads, then clicks and bridge events alternating, against a studio with a clocked file sink."""
    with tempfile.TemporaryDirectory() as directory:
        studio = Studio(Path(directory))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                loaded = []
                for _ in range(loads):
                    page.goto(f"http://127.0.0.1:{studio.port}/")
                    page.wait_for_function("window.studio.firstBeatDrawnAt !== null", timeout=30_000)
                    loaded.append(page.evaluate("window.studio.firstBeatDrawnAt"))
                page.wait_for_selector("#events button")
                offset = page_to_monotonic(page)
                actions, starts = {"page": [], "bridge": []}, {"page": [], "bridge": []}
                with Client(studio.commands, studio.events, timeout=10) as client:
                    rate = client.hello()["sample_rate"]
                    heard = Heard(client)
                    time.sleep(1.0)  # beats for the sink's clock
                    for trial in range(2 * trials):
                        path, name = ("page", "bridge")[trial % 2], NOW_EVENTS[trial // 2 % 2]
                        if path == "page":
                            at = page.evaluate(CLICK, name) / 1000 + offset
                        else:
                            at = time.monotonic()
                            client.event(name)
                        actions[path].append(at)
                        starts[path].append(heard.mood_start_after(at)["sample"])
                        time.sleep(0.3)  # past the bridge's mood coalescing interval (0.1 s)
                    time.sleep(1.0)  # the last change heard
                    drawn = page.evaluate(DRAWN)
                    origin = heard.sink_origin(rate)
                    heard.stop()
                    status = client.status()
                    played = studio.json("GET", "/api/timeline")[1]
                browser.close()
        finally:
            studio.stop()
        recorded, _ = read_wav(studio.recording)
    # Trial k's first changed sample: where the recording first differs from the offline render of
    # every control before trial k's (the previous trial's start; a quantize "now" change is applied there).
    controls = [Control(c["position"], c["method"], tuple(c["args"])) for c in played["controls"]]
    order = sorted((s, path, i) for path in starts for i, s in enumerate(starts[path]))
    changed = {"page": [0] * trials, "bridge": [0] * trials}
    previous = -1
    for start, path, i in order:
        before = [c for c in controls if c.position <= previous]
        unchanged = render_controls(GeneratorSpec("procedural", DEFAULT_MOOD).build(), before, start + rate)
        differs = np.flatnonzero(np.any(recorded[PREROLL: PREROLL + start + rate] != unchanged, axis=1))
        changed[path][i] = int(differs[0])
        previous = start
    end = order[-1][0] + rate
    same = np.array_equal(recorded[PREROLL: PREROLL + end],
                          render_controls(GeneratorSpec("procedural", DEFAULT_MOOD).build(), controls, end))
    lag = [changed[p][i] - starts[p][i] for p in starts for i in range(trials)]
    print(f"page load to first beat drawn: median {np.median(loaded):.0f} ms, max {max(loaded):.0f} ms ({loads} loads)")
    print(f"recording {'equals' if same else 'DIFFERS FROM'} the offline render of the soundtrack's controls; "
          f"sink underruns {status['underruns']}; first changed sample - mood start: "
          f"{min(lag)}..{max(lag)} samples")
    after = {path: [1000 * (origin + s / rate - a) for a, s in zip(actions[path], changed[path])] for path in actions}
    for label, path in (("page click to first changed sample heard", "page"),
                        ("bridge event to first changed sample heard", "bridge")):
        print(f"{label}: p50 {np.percentile(after[path], 50):.1f} ms, p95 {np.percentile(after[path], 95):.1f} ms")
    print(f"studio path adds: p50 {np.percentile(after['page'], 50) - np.percentile(after['bridge'], 50):+.1f} ms, "
          f"p95 {np.percentile(after['page'], 95) - np.percentile(after['bridge'], 95):+.1f} ms ({trials} trials each)")
    _spread("server's output: beat drawn on the page - played by the sink",
            [1000 * (t / 1000 + offset - (origin + s / rate)) for s, t in drawn])


def _spread(label: str, values: list[float]) -> None:
    v = np.asarray(values)
    print(f"{label}: median {np.median(v):+.1f} ms, p5 {np.percentile(v, 5):+.1f}, p95 {np.percentile(v, 95):+.1f}, "
          f"max |.| {np.abs(v).max():.1f} ms ({len(v)} beats)")


def _listen(seconds: float, buffer: float) -> None:
    """Play the engine output in the page for ``seconds``: worklet underruns, latency, beats drawn vs played."""
    with tempfile.TemporaryDirectory() as directory:
        studio = Studio(Path(directory), engine=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{studio.port}/?buffer={buffer:g}")
                page.click("#listen")
                page.wait_for_function("window.studio.audio && window.studio.audio.played > 0", timeout=30_000)
                buffered, beats = [], {}
                for second in range(int(seconds)):
                    time.sleep(1.0)
                    buffered.append(page.evaluate("window.studio.audio.buffered") / 48.0)
                    if second % 60 == 59 or second == int(seconds) - 1:  # the page keeps the last 512 beats
                        for sample, beat in page.evaluate("[...window.studio.beats.entries()]"):
                            if "heard" in beat and "drawn" in beat:
                                beats[sample] = beat
                audio = page.evaluate("window.studio.audio")
                browser.close()
        finally:
            studio.stop()
    device_ms = 1000 * (audio["baseLatency"] + audio["outputLatency"])
    print(f"browser audio over {seconds:g} s, worklet buffer {buffer:g} s: {audio['underruns']} worklet underruns "
          f"(128-frame quanta), {audio['gaps']} gaps; latency = buffer median {np.median(buffered):.0f} ms "
          f"(min {min(buffered):.0f}) + device {device_ms:.0f} ms")
    beats = list(beats.values())
    _spread("browser audio: beat drawn - played by the worklet", [b["drawn"] - b["heard"] for b in beats])
    _spread("browser audio: beat event arrived - played by the worklet", [b["arrived"] - b["heard"] for b in beats])


if __name__ == "__main__":
    main()
