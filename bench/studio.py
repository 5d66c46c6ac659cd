"""Studio figures (issue 14: a studio in the browser).

Prints, measured in this run against one `adaptive-music studio --no-audio`
process, with the page in Debian's headless Chromium (Playwright):
- page load to first beat drawn (navigation start to the first beat line the
  timeline draws, from the page's own clock), over fresh page loads;
- click to `mood` start event: a button click in the page until the page has
  the bridge's `mood` start for it, against the same kind of change sent as a
  bridge `event` by a Python client until its SUB socket has the start event.
  Both use events with quantize "now", alternating, so the beat grid does not
  enter; the difference is what the studio's path (HTTP, bridge client,
  WebSocket forwarding) adds;
- browser audio (``--output engine``, the page's AudioWorklet pulling): worklet
  underruns over ``--listen`` seconds, and its latency: the worklet's buffer
  (sampled each second) plus the AudioContext's base and output latency.

    python bench/studio.py [--loads 5] [--trials 20] [--listen 60]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from studio_process import Studio  # noqa: E402

from adaptive_music.bridge import Client  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
NOW_EVENTS = ("game_start", "player_died")  # both change the mood with quantize "now"

CLICK_UNTIL_START = """async (name) => {
  const before = window.studio.lastMoodStart;
  const t0 = performance.now();
  document.querySelector(`#events button[data-name=${name}]`).click();
  while (window.studio.lastMoodStart === before) await new Promise((r) => setTimeout(r, 1));
  return window.studio.lastMoodStart.t - t0;
}"""


def _bridge_event_ms(client: Client, sub, name: str) -> float:
    t0 = time.perf_counter()
    client.event(name)
    while True:
        event = sub.recv(timeout=10)
        if event is None:
            raise TimeoutError(f"no mood start after {name}")
        if event.data.get("phase") == "start":
            return (time.perf_counter() - t0) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--listen", type=float, default=60.0, metavar="SECONDS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        studio = Studio(Path(directory))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                loads = []
                for _ in range(args.loads):
                    page.goto(f"http://127.0.0.1:{studio.port}/")
                    page.wait_for_function("window.studio.firstBeatDrawnAt !== null", timeout=30_000)
                    loads.append(page.evaluate("window.studio.firstBeatDrawnAt"))
                page.wait_for_selector("#events button")
                clicks, bridged = [], []
                with Client(studio.commands, studio.events, timeout=10) as client, client.subscribe("mood") as sub:
                    for trial in range(args.trials):
                        page_event, bridge_event = NOW_EVENTS[trial % 2], NOW_EVENTS[1 - trial % 2]
                        clicks.append(page.evaluate(CLICK_UNTIL_START, page_event))
                        time.sleep(0.15)  # past the bridge's mood coalescing interval (0.1 s)
                        while sub.recv(timeout=0.05) is not None:  # drop what the click caused
                            pass
                        bridged.append(_bridge_event_ms(client, sub, bridge_event))
                        time.sleep(0.15)
                browser.close()
        finally:
            studio.stop()
    listened = _listen(args.listen)
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}")
    print(f"page load to first beat drawn: median {np.median(loads):.0f} ms, max {max(loads):.0f} ms "
          f"({args.loads} loads)")
    for label, values in (("page click to mood start on the page", clicks),
                          ("bridge event to mood start on SUB", bridged)):
        print(f"{label}: p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms")
    print(f"studio path adds: p50 {np.percentile(clicks, 50) - np.percentile(bridged, 50):+.1f} ms, "
          f"p95 {np.percentile(clicks, 95) - np.percentile(bridged, 95):+.1f} ms ({args.trials} trials each)")
    audio, buffered_ms = listened
    device_ms = 1000 * (audio["baseLatency"] + audio["outputLatency"])
    print(f"browser audio over {args.listen:g} s: {audio['underruns']} worklet underruns (128-frame quanta), "
          f"{audio['gaps']} gaps; latency = buffer median {np.median(buffered_ms):.0f} ms "
          f"(min {min(buffered_ms):.0f}) + device {device_ms:.0f} ms")


def _listen(seconds: float) -> tuple[dict, list[float]]:
    """Play the engine output in the page for ``seconds``; its worklet stats and buffer samples (ms)."""
    with tempfile.TemporaryDirectory() as directory:
        studio = Studio(Path(directory), engine=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{studio.port}/")
                page.click("#listen")
                page.wait_for_function("window.studio.audio && window.studio.audio.played > 0", timeout=30_000)
                buffered = []
                for _ in range(int(seconds)):
                    time.sleep(1.0)
                    buffered.append(page.evaluate("window.studio.audio.buffered") / 48.0)
                audio = page.evaluate("window.studio.audio")
                browser.close()
        finally:
            studio.stop()
    return audio, buffered


if __name__ == "__main__":
    main()
