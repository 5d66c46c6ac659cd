"""`adaptive-music studio` as a process, over real HTTP, WebSocket and ZeroMQ sockets."""

import asyncio
import io
import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import soundfile

aiohttp = pytest.importorskip("aiohttp", reason="the studio needs aiohttp (pip install 'adaptive-music[studio]')")

from adaptive_music.bridge import Client  # noqa: E402
from adaptive_music.cli.main import main  # noqa: E402
from adaptive_music.mood.maps import EXAMPLE, load_mood_map, tomllib  # noqa: E402
from studio_process import Studio  # noqa: E402

SHIPPED = load_mood_map(EXAMPLE)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    running = Studio(tmp_path_factory.mktemp("studio"))
    yield running
    code, out = running.stop()
    assert code == 0 and f"wrote {running.recording}" in out  # a clean stop finalises the recording


def test_page_and_map_show_every_mood_event_and_stinger(studio):
    status, page = studio.http("GET", "/")
    assert status == 200 and b'<canvas id="timeline"' in page
    for asset in ("/static/studio.js", "/static/studio.css"):
        assert studio.http("GET", asset)[0] == 200
    assert studio.http("GET", "/static/..%2F__init__.py")[0] == 404
    status, shown = studio.json("GET", "/api/map")
    assert status == 200
    assert set(shown["moods"]) == set(SHIPPED.moods)
    assert set(shown["events"]) == set(SHIPPED.events)
    assert set(shown["stingers"]) == set(SHIPPED.stingers)
    assert shown["text"] == EXAMPLE.read_text()
    assert shown["raw"] == tomllib.loads(EXAMPLE.read_text())  # the tables as written, for the form


def test_explain_shows_the_explain_mood_json(studio, capsys):
    status, info = studio.json("GET", "/api/explain?text=grim%20zorp%20strings")
    assert status == 200
    assert main(["explain-mood", "--json", "grim zorp strings"]) == 0
    assert info == json.loads(capsys.readouterr().out)
    assert [u["word"] for u in info["unknown"]] == ["zorp"]


async def _fire_and_watch(studio, name: str, seconds: float = 15.0):
    """Fire event ``name`` from the page; return the reply, the bridge's events after it
    (over a real SUB socket) and the page's (over its WebSocket)."""
    from adaptive_music.bridge import AsyncSubscription

    url = f"http://127.0.0.1:{studio.port}"
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws", origin=url) as page:
        async with AsyncSubscription(studio.events, ("beat", "mood")) as sub:
            # Subscribed, and past the first beat: a "beat" change asked for before the generator
            # knows its tempo starts at once (ProceduralModel.next_boundary), not on a beat.
            while (event := await sub.recv(timeout=10)) is not None and event.data.get("sample", 0) == 0:
                pass
            async with session.post(f"{url}/api/action", json={"type": "event", "name": name},
                                    headers={"Origin": url}) as response:
                reply = await response.json()
            bridge, shown = [], []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not any(e.topic == "mood" and e.data["phase"] == "start" for e in bridge):
                event = await sub.recv(timeout=deadline - time.monotonic())
                if event is not None:
                    bridge.append(event)
            while time.monotonic() < deadline and not any(m["topic"] == "mood" for m in shown):
                message = await page.receive(timeout=deadline - time.monotonic())
                shown.append(json.loads(message.data))
    return reply, bridge, shown


def test_firing_enemy_spotted_starts_combat_on_the_next_beat(studio):
    reply, bridge, shown = asyncio.run(_fire_and_watch(studio, "enemy_spotted"))
    combat = SHIPPED.moods["combat"]
    assert reply["ok"] and reply["action"]["mood"] == combat and reply["action"]["quantize"] == "beat"
    start = next(e.data for e in bridge if e.topic == "mood" and e.data["phase"] == "start")
    assert start["text"] == combat and start["intensity"] == pytest.approx(0.7)
    beats = [e.data["sample"] for e in bridge if e.topic == "beat"]
    assert start["sample"] in beats  # quantized to a beat ...
    assert len([b for b in beats if b < start["sample"]]) <= 1  # ... the next one (one may have been in flight)
    # The page got the same events, forwarded unchanged.
    assert {"topic": "mood", "data": start} in shown
    assert any(m["topic"] == "beat" for m in shown)


def test_slider_sets_the_intensity(studio):
    status, _ = studio.json("POST", "/api/action", {"type": "intensity", "value": 0.25})
    assert status == 200
    with Client(studio.commands, studio.events, timeout=10) as bridge:
        deadline = time.monotonic() + 5
        while bridge.status()["intensity"] != pytest.approx(0.25) and time.monotonic() < deadline:
            time.sleep(0.05)  # intensity changes are coalesced: the latest lands within an interval
        assert bridge.status()["intensity"] == pytest.approx(0.25)
    assert studio.json("POST", "/api/action", {"type": "intensity", "value": "loud"})[0] == 400
    assert studio.json("POST", "/api/action", {"type": "intensity", "value": 2.0})[0] == 400  # the bridge refuses


def test_pause_and_resume(studio):
    with Client(studio.commands, studio.events, timeout=10) as bridge:
        assert studio.json("POST", "/api/action", {"type": "pause"})[0] == 200
        assert bridge.status()["paused"] is True
        assert studio.json("POST", "/api/action", {"type": "resume"})[0] == 200
        assert bridge.status()["paused"] is False


def test_invalid_edit_is_refused_with_serves_message_and_the_file_is_unchanged(studio, tmp_path, capsys):
    before = studio.map.read_bytes()
    bad = before.decode().replace('[events.enemy_spotted]\nmood = "combat"', '[events.enemy_spotted]\nmood = 3')
    status, data = studio.http("PUT", "/api/map", bad.encode())
    refused = json.loads(data)
    assert status == 400
    assert studio.map.read_bytes() == before
    # `serve` given the same text in the same file says the same (file, line, table, key).
    copy = tmp_path / studio.map.name
    copy.write_text(bad)
    assert main(["serve", "--no-audio", "--moods", str(copy)]) == 2
    said = capsys.readouterr().err.strip()
    assert said == f"adaptive-music serve: error: {refused['error']}".replace(str(studio.map), str(copy))
    assert re.search(r"my_game\.toml:\d+: \[events\.enemy_spotted\] mood: ", refused["error"])
    assert studio.http("PUT", "/api/map", b"not toml = = =")[0] == 400
    assert studio.map.read_bytes() == before


def test_valid_edit_is_saved_and_used_at_once(studio, tmp_path):
    text = studio.map.read_text() + '\n[events.studio_test]\nmood = "boss"\nquantize = "now"\n'
    other = tmp_path / "elsewhere.toml"
    # No request names a file: a path in the query is ignored, only the studio's map is written.
    status, data = studio.http("PUT", f"/api/map?file={other}&path={other}", text.encode())
    assert status == 200, data
    assert studio.map.read_text() == text and not other.exists()
    assert "studio_test" in json.loads(data)["events"]
    assert not list(studio.map.parent.glob(f".{studio.map.name}.*"))  # the temporary file was renamed into place
    status, reply = studio.json("POST", "/api/action", {"type": "event", "name": "studio_test"})
    assert status == 200 and reply["action"]["mood"] == SHIPPED.moods["boss"]
    with Client(studio.commands, studio.events, timeout=10) as bridge:  # a game sees the new map too
        assert "studio_test" in bridge.hello()["events"]
        assert bridge.status()["mood"] == SHIPPED.moods["boss"]


def test_timeline_lists_the_controls_heard_and_renders_them(studio):
    status, played = studio.json("GET", "/api/timeline")
    assert status == 200 and played["sample_rate"] == 48000 and played["seconds"] > 0
    # enemy_spotted, fired above: the mood change and its intensity, with the map's quantize and ramp.
    calls = [(c["method"], c["args"]) for c in played["controls"]]
    assert ["set_mood", [SHIPPED.moods["combat"], "beat", 0.5]] in [list(call) for call in calls]
    assert all(0 <= c["position"] < played["seconds"] * 48000 for c in played["controls"])


def test_render_downloads_what_has_played(studio):
    status, data = studio.http("GET", "/api/render?format=wav")
    assert status == 200 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    audio, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    assert rate == 48000 and audio.shape[1] == 2 and len(audio) > 0
    assert studio.http("GET", "/api/render?format=mp3")[0] == 400
    assert studio.http("GET", "/api/render", headers={"Origin": "http://evil.example"})[0] == 403


def test_stems_preview_lists_and_serves_the_maps_loops_and_transitions(studio):
    status, listing = studio.json("POST", "/api/stems", {"bars": 1})
    assert status == 200, listing
    assert [m["name"] for m in listing["moods"]] == list(SHIPPED.moods)
    assert {(t["from"], t["to"]) for t in listing["transitions"]} == {
        (a, b) for a in SHIPPED.moods for b in SHIPPED.moods if a != b}
    assert studio.json("GET", "/api/stems")[1] == listing  # for a page opened later
    for file in (listing["moods"][0]["file"], listing["transitions"][0]["file"]):
        status, data = studio.http("GET", f"/api/stems/file?name={quote(file)}")
        audio, rate = soundfile.read(io.BytesIO(data))
        assert status == 200 and rate == 48000 and len(audio) > rate // 2  # a real WAV: a bar or more
    for name in ("manifest.json", "../my_game.toml", "/etc/passwd", ""):  # only what the listing names
        assert studio.http("GET", f"/api/stems/file?name={quote(name)}")[0] == 404
    assert studio.json("POST", "/api/stems", {"bars": 0})[0] == 400


def test_foreign_origin_or_host_is_refused(studio):
    before = studio.map.read_bytes()
    assert studio.http("GET", "/", headers={"Origin": "http://evil.example"})[0] == 403
    assert studio.http("GET", "/api/map", headers={"Host": "evil.example"})[0] == 403  # DNS rebinding
    assert studio.http("GET", "/", headers={"Host": f"evil.example:{studio.port}"})[0] == 403
    assert studio.http("PUT", "/api/map", b"", headers={"Origin": "http://evil.example"})[0] == 403
    assert studio.http("POST", "/api/action", b'{"type": "pause"}', headers={"Origin": "null"})[0] == 403
    assert studio.map.read_bytes() == before
    assert studio.http("GET", "/", headers={"Host": f"localhost:{studio.port}",
                                            "Origin": f"http://localhost:{studio.port}"})[0] == 200

    async def websocket(origin):
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{studio.port}/ws", origin=origin):
                return True

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        asyncio.run(websocket("http://evil.example"))
    assert refused.value.status == 403
    assert asyncio.run(websocket(f"http://127.0.0.1:{studio.port}"))


def test_binds_loopback_only(studio):
    # /proc/net/tcp lists listening sockets (state 0A) with their local address in hex.
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == studio.port:
            listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1
    assert not any(line.split()[1].endswith(f":{studio.port:04X}") for line in
                   Path("/proc/net/tcp6").read_text().splitlines()[1:])


def test_studio_needs_a_readable_map_file(capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["studio", "--no-audio"])
    assert exited.value.code == 2 and "--moods" in capsys.readouterr().err
    missing = tmp_path / "missing.toml"
    assert main(["studio", "--no-audio", "--moods", str(missing)]) == 2
    assert capsys.readouterr().err == f"adaptive-music studio: error: {missing}: cannot read the mood map " \
        "(No such file or directory)\n"


def test_browser_audio_rides_out_a_short_stall_and_says_why_it_stops_on_a_long_one():
    """The page's audio socket against a real ``serve --output engine`` process, stalled by SIGSTOP:
    a stall shorter than the pull's wait costs the page nothing but time; a longer one ends the
    stream with a message saying what happened, and a new stream plays on from where the music is."""
    import signal
    import struct

    from aiohttp import test_utils, web

    from adaptive_music.studio.browser_audio import audio_socket
    from test_bridge_serve import served

    wait = 1.0  # the pull's wait (the studio's is browser_audio.PULL_TIMEOUT)
    frames = 2048

    async def page(commands: str, stall, stalls: list[float]) -> tuple[list[int], dict]:
        """Open a stream, pull before and after each stall; the positions received and the closing message."""
        async def audio(request: web.Request) -> web.WebSocketResponse:
            return await audio_socket(request, commands, timeout=wait)

        app = web.Application()
        app.router.add_get("/audio", audio)
        server = test_utils.TestServer(app, host="127.0.0.1")
        await server.start_server()
        positions, last = [], None
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(server.make_url("/audio")) as ws:
                await ws.send_json({"open": {"sample_rate": 48000, "channels": 2}})
                opened = await ws.receive_json(timeout=10)
                assert opened["sample_rate"] == 48000 and opened["channels"] == 2
                for seconds in [0.0, *stalls]:
                    await ws.send_json({"pull": frames})
                    if seconds:
                        await asyncio.get_running_loop().run_in_executor(None, stall, seconds)
                    message = await ws.receive(timeout=10)
                    if message.type != aiohttp.WSMsgType.BINARY:
                        last = json.loads(message.data)
                        break
                    positions.append(struct.unpack_from("<Q", message.data)[0])
                    assert len(message.data) == 8 + frames * 2 * 4
                if last is not None:  # said why, then closed
                    assert (await ws.receive(timeout=10)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        finally:
            await server.close()
        return positions, last

    with served("--output", "engine") as (process, commands, _):
        def stall(seconds: float) -> None:
            process.send_signal(signal.SIGSTOP)
            time.sleep(seconds)
            process.send_signal(signal.SIGCONT)

        positions, ended = asyncio.run(page(commands, stall, [0.5 * wait, 0.5 * wait]))
        assert ended is None and positions == [positions[0] + i * frames for i in range(3)]  # contiguous
        positions, ended = asyncio.run(page(commands, stall, [2.0 * wait]))
        assert len(positions) == 1
        assert ended["error"] == (f"no reply to 'audio_pull' from {commands} within {wait:g} s: "
                                  "press Listen to try again")
        stalled_at = positions[0] + frames
        positions, ended = asyncio.run(page(commands, stall, [0.0]))  # Listen again: the music plays on
        assert ended is None and positions == [positions[0], positions[0] + frames]
        assert positions[0] >= stalled_at  # from where the music is, not from the start
        assert process.poll() is None
