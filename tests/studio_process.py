"""A real `adaptive-music studio` process for tests, with its addresses."""

import http.client
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from adaptive_music.mood.maps import EXAMPLE

ROOT = Path(__file__).resolve().parents[1]
STUDIO = [sys.executable, "-m", "adaptive_music.cli.main", "studio"]


class Studio:
    """A running studio: its page address, bridge addresses, map file and recording.

    It plays to a clocked file sink (``--no-audio --record``), or with ``engine``
    waits for a puller (``--output engine``: the page's browser audio).
    """

    def __init__(self, directory: Path, *, engine: bool = False) -> None:
        self.map = directory / "my_game.toml"
        self.map.write_bytes(EXAMPLE.read_bytes())
        self.recording = directory / "out.wav"
        self.log = tempfile.TemporaryFile("w+")  # a file, not a pipe nobody reads
        output = ["--output", "engine"] if engine else ["--no-audio", "--record", str(self.recording)]
        self.process = subprocess.Popen(
            STUDIO + ["--moods", str(self.map), "--port", "0", *output],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()
        found = re.search(r"studio on http://127\.0\.0\.1:(\d+)/ bridge commands on (\S+) events on (\S+)", line)
        if not found:
            self.process.kill()
            self.log.seek(0)
            raise AssertionError(f"the studio did not start: {line!r} {self.log.read()}")
        self.port = int(found.group(1))
        self.commands, self.events = found.group(2), found.group(3)

    def http(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, body) of one request; Host and Origin default to the page's own."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        headers = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data

    def json(self, method: str, path: str, payload=None, **kwargs):
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.http(method, path, body, **kwargs)
        return status, json.loads(data)

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit status and what it printed."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        self.log.close()
        return self.process.returncode, out
