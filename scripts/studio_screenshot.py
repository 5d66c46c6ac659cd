"""Take the README's screenshot of the studio: the shipped map played in the page (browser audio,
so the level strip shows), a few seconds after `enemy_spotted`.

    python scripts/studio_screenshot.py docs/studio.png
"""

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from studio_process import Studio  # noqa: E402


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        studio = Studio(Path(directory), engine=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"http://127.0.0.1:{studio.port}/")
                page.click("#listen")
                page.wait_for_function("window.studio.beatsDrawn > 4", timeout=30_000)
                page.fill("#mood-text", "grim zorp strings")
                page.fill("#entry-name", "enemy_spotted")
                page.dispatch_event("#entry-name", "change")
                page.click("#events button[data-name=enemy_spotted]")
                page.wait_for_selector("#transitions li.mood-end", timeout=30_000)
                time.sleep(1.5)
                page.screenshot(path=out)
                browser.close()
        finally:
            studio.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1])
