"""The studio's web server: an aiohttp application that is a client of a bridge server.

Page actions (``POST /api/action``) become bridge requests on one
:class:`~adaptive_music.bridge.Client`, whose blocking calls run on one worker
thread that owns its socket. The bridge's published events are read from a SUB
socket and forwarded, unchanged, to every page over ``/ws``. With an engine
output the page may also pull the audio itself over ``/audio`` (browser_audio).
What has played, or a script of events, renders offline for download (render),
and the map renders as stems for preview (stems_preview).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import math
from importlib import resources
from typing import Any, Callable

from aiohttp import WSMsgType, web

from ..bridge.client import AsyncSubscription, Client
from ..bridge.protocol import BridgeError
from ..mood.maps import MoodMap, MoodMapError, tomllib  # the TOML reader the map's checks use
from ..mood.text import MoodError
from ..playback.feed import render_controls
from . import security
from .mapfile import MAX_MAP_BYTES, MapFile
from .render import FORMATS, MAX_SECONDS, Timeline, encode, parse_script, script_controls
from .stems_preview import MEDIA_TYPES, StemsPreview

log = logging.getLogger(__name__)

MAX_NAME = 200
"""Longest event, mood or stinger name, or mood text, a page may send."""
_STATIC = {"studio.js": "text/javascript", "pcm-player.js": "text/javascript", "studio.css": "text/css"}

MAP = web.AppKey("map", MapFile)
MOODS = web.AppKey("moods", list)  # [MoodMap]: the map in use
ON_SAVE = web.AppKey("on_save", Callable)
BRIDGE = web.AppKey("bridge", dict)
PAGES = web.AppKey("pages", set)
TIMELINE = web.AppKey("timeline", object)  # Timeline | None
STEMS = web.AppKey("stems", object)  # StemsPreview | None
RENDERING = web.AppKey("rendering", asyncio.Lock)
HOSTS = security.HOSTS


def make_app(map_file: MapFile, moods: MoodMap, commands: str, events: str,
             on_save: Callable[[MoodMap], None],
             timeline: Timeline | None = None, stems: StemsPreview | None = None) -> web.Application:
    """The studio for the bridge at ``commands``/``events``, editing ``map_file`` (whose
    validated contents are ``moods``); ``on_save`` gets each map saved, to put in use.
    ``timeline`` is what the soundtrack has played, to list and render for downloads; ``stems``
    previews the map as ``adaptive-music stems`` renders it."""
    app = web.Application(middlewares=[security.same_origin_only], client_max_size=MAX_MAP_BYTES)
    app[HOSTS] = set()  # filled once the port is bound (serve_studio)
    app[MAP] = map_file
    app[MOODS] = [moods]
    app[ON_SAVE] = on_save
    app[BRIDGE] = {"commands": commands, "events": events}
    app[PAGES] = set()
    app[TIMELINE] = timeline
    app[STEMS] = stems
    app[RENDERING] = asyncio.Lock()
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/map", _get_map)
    app.router.add_put("/api/map", _put_map)
    app.router.add_get("/api/explain", _explain)
    app.router.add_post("/api/action", _action)
    app.router.add_get("/ws", _websocket)
    app.router.add_get("/audio", _audio)
    app.router.add_get("/api/render", _render)
    app.router.add_get("/api/timeline", _timeline)
    app.router.add_post("/api/render/script", _render_script)
    app.router.add_get("/api/stems", _stems)
    app.router.add_post("/api/stems", _build_stems)
    app.router.add_get("/api/stems/file", _stems_file)
    app.cleanup_ctx.append(_bridge_client)
    return app


async def serve_studio(app: web.Application, port: int, stop: asyncio.Event,
                       ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve ``app`` on 127.0.0.1 only (``port`` 0 picks a free one) until ``stop`` is set."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = runner.addresses[0][1]
        app[HOSTS].update(security.allowed_hosts(bound))
        ready(f"http://127.0.0.1:{bound}/")
        await stop.wait()
    finally:
        await runner.cleanup()


# The bridge connection ---------------------------------------------------------

async def _bridge_client(app: web.Application):
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-bridge")
    loop = asyncio.get_running_loop()
    bridge = app[BRIDGE]
    bridge["client"] = await loop.run_in_executor(worker, Client, bridge["commands"], bridge["events"])
    bridge["worker"] = worker
    forward = asyncio.create_task(_forward_events(app))
    forward.add_done_callback(_forwarding_stopped)
    try:
        yield
    finally:
        forward.cancel()
        for page in list(app[PAGES]):
            await page.close()
        await loop.run_in_executor(worker, bridge["client"].close)
        worker.shutdown()


async def _request(app: web.Application, call: Callable[[Client], dict]) -> dict:
    bridge = app[BRIDGE]
    return await asyncio.get_running_loop().run_in_executor(bridge["worker"], call, bridge["client"])


async def _forward_events(app: web.Application) -> None:
    """Every event the bridge publishes goes to every page, as ``{"topic", "data"}``."""
    subscription = AsyncSubscription(app[BRIDGE]["events"])
    try:
        async for event in subscription:
            await _broadcast(app, {"topic": event.topic, "data": event.data})
    finally:
        subscription.close()


def _forwarding_stopped(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:  # the pages would go quiet without a word
        log.error("forwarding the bridge's events to the pages failed", exc_info=task.exception())


def _dumps(message: Any) -> str:
    return json.dumps(message, default=str)  # a TOML date in a hand-edited map, say


async def _broadcast(app: web.Application, message: dict) -> None:
    text = _dumps(message)
    for page in list(app[PAGES]):
        try:
            await page.send_str(text)
        except ConnectionError:  # the page went away; its handler removes it
            pass


# Handlers ----------------------------------------------------------------------

async def _index(request: web.Request) -> web.Response:
    return web.Response(text=_asset("index.html"), content_type="text/html")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:  # a fixed list: no path from the request reaches the file system
        raise web.HTTPNotFound()
    return web.Response(text=_asset(name), content_type=_STATIC[name])


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _map_summary(app: web.Application, text: str) -> dict:
    """The map in use, and the tables of its ``text`` as written (names, not texts: the form edits those)."""
    moods = app[MOODS][0]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:  # edited behind the studio's back; the form starts from nothing
        raw = {}
    return {
        "file": str(app[MAP].path),
        "raw": raw,
        "moods": dict(moods.moods),
        "stingers": dict(moods.stingers),
        "events": {name: {k: v for k, v in vars(rule).items() if v is not None} for name, rule in moods.events.items()},
        "quantize": moods.quantize,
        "ramp": moods.ramp,
    }


async def _get_map(request: web.Request) -> web.Response:
    text = request.app[MAP].read()
    return web.json_response({**_map_summary(request.app, text), "text": text}, dumps=_dumps)


async def _put_map(request: web.Request) -> web.Response:
    """Save the edited TOML to the studio's own map file, if valid, and put it in use."""
    app = request.app
    text = await request.text()
    try:
        moods = app[MAP].save(text)
    except MoodMapError as exc:
        return web.json_response({"error": str(exc), "line": exc.line, "where": exc.where}, status=400)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    app[MOODS][0] = moods
    app[ON_SAVE](moods)
    summary = _map_summary(app, text)
    await _broadcast(app, {"topic": "studio.map", "data": summary})
    return web.json_response(summary, dumps=_dumps)


async def _explain(request: web.Request) -> web.Response:
    from ..cli.explain import explanation

    text = request.query.get("text", "")
    if not 0 < len(text) <= MAX_NAME:
        return web.json_response({"error": f"a mood text has 1 to {MAX_NAME} characters"}, status=400)
    try:
        return web.json_response(explanation(text))
    except MoodError as exc:
        return web.json_response({"error": str(exc)}, status=400)


async def _action(request: web.Request) -> web.Response:
    """One page action as one bridge request; the reply (or the bridge's error) goes back."""
    try:
        action = await request.json()
        call = _bridge_call(action, request.app[MOODS][0])
    except (ValueError, TypeError, KeyError) as exc:
        return web.json_response({"error": f"bad action: {exc}"}, status=400)
    try:
        reply = await _request(request.app, call)
    except BridgeError as exc:
        return web.json_response({"error": exc.message, "code": exc.code}, status=400)
    except TimeoutError as exc:
        return web.json_response({"error": str(exc)}, status=504)
    return web.json_response(reply)


def _bridge_call(action: Any, moods: MoodMap) -> Callable[[Client], dict]:
    """The Client call an action asks for; ValueError when it is malformed."""
    if not isinstance(action, dict):
        raise ValueError("an action is a JSON object")
    kind = action.get("type")
    if kind in ("pause", "resume", "status"):
        return lambda client: client.request(kind)
    if kind == "intensity":
        value = action.get("value")
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValueError("intensity needs a number value")
        return lambda client: client.set_intensity(float(value))
    name = action.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise ValueError(f"{kind} needs a name of 1 to {MAX_NAME} characters")
    if kind == "event":
        return lambda client: client.event(name)
    if kind == "stinger":
        return lambda client: client.stinger(name)
    if kind == "mood":  # a named mood or a free text, changed as the map's defaults say
        return lambda client: client.set_mood(name, quantize=moods.quantize, ramp=moods.ramp)
    raise ValueError(f"unknown action type {kind!r:.40}")


async def _timeline(request: web.Request) -> web.Response:
    """The control calls heard so far, with their stream positions."""
    timeline = request.app[TIMELINE]
    if timeline is None:
        return web.json_response({"error": "this studio does not keep its timeline"}, status=409)
    return web.json_response(timeline.describe(), dumps=_dumps)


async def _render(request: web.Request) -> web.Response:
    """The timeline heard so far, rendered offline, as a download (``?format=wav|ogg``)."""
    fmt = request.query.get("format", "wav")
    timeline = request.app[TIMELINE]
    if fmt not in FORMATS:
        return web.json_response({"error": f"format must be one of {', '.join(FORMATS)}"}, status=400)
    if timeline is None:
        return web.json_response({"error": "this studio does not keep its timeline"}, status=409)
    async with request.app[RENDERING]:  # one render at a time: each takes a core for a while
        try:
            audio = await asyncio.to_thread(timeline.render)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        data = await asyncio.to_thread(encode, audio, timeline.sample_rate, fmt)
    return _download(data, fmt, "studio-timeline", len(audio) / timeline.sample_rate)


async def _render_script(request: web.Request) -> web.Response:
    """A script of game events (``{"script": "SECONDS EVENT" lines, "seconds", "format"}``) rendered
    offline from the studio's starting mood, as the bridge would apply them, as a download."""
    app = request.app
    timeline = app[TIMELINE]
    try:
        asked = await request.json()
        fmt, seconds = asked.get("format", "wav"), asked.get("seconds")
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        if type(seconds) not in (int, float) or not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be a number in (0, {MAX_SECONDS:g}]")
        script = parse_script(str(asked.get("script", "")), seconds)
        if timeline is None:
            return web.json_response({"error": "this studio cannot render"}, status=409)
        controls = script_controls(app[MOODS][0], script, timeline.sample_rate)
    except (ValueError, AttributeError) as exc:  # AttributeError: JSON that is not an object
        return web.json_response({"error": f"{exc}"}, status=400)
    frames = round(seconds * timeline.sample_rate)
    async with app[RENDERING]:
        audio = await asyncio.to_thread(render_controls, timeline.soundtrack.spec.build(), controls, frames)
        data = await asyncio.to_thread(encode, audio, timeline.sample_rate, fmt)
    return _download(data, fmt, "studio-script", len(audio) / timeline.sample_rate)


async def _stems(request: web.Request) -> web.Response:
    """The last stems preview built: its loops and transitions."""
    preview = request.app[STEMS]
    listing = preview.listing() if preview is not None else None
    return web.json_response(listing or {"moods": [], "transitions": []})


async def _build_stems(request: web.Request) -> web.Response:
    """Render the map in use as stems (``{"bars": N}``); the listing, or why not."""
    preview = request.app[STEMS]
    if preview is None:
        return web.json_response({"error": "this studio has no stems folder"}, status=409)
    try:
        bars = (await request.json()).get("bars", 4)
        return web.json_response(await asyncio.to_thread(preview.build, request.app[MOODS][0], bars))
    except (ValueError, AttributeError) as exc:  # StemsError is a ValueError
        return web.json_response({"error": str(exc)}, status=400)


async def _stems_file(request: web.Request) -> web.StreamResponse:
    preview = request.app[STEMS]
    path = preview.file(request.query.get("name", "")) if preview is not None else None
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": MEDIA_TYPES[path.suffix]})


def _download(data: bytes, fmt: str, name: str, seconds: float) -> web.Response:
    return web.Response(body=data, content_type=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"', "X-Rendered-Seconds": f"{seconds:.6f}"})


async def _audio(request: web.Request) -> web.WebSocketResponse:
    from .browser_audio import audio_socket

    return await audio_socket(request, request.app[BRIDGE]["commands"])


async def _websocket(request: web.Request) -> web.WebSocketResponse:
    page = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await page.prepare(request)
    request.app[PAGES].add(page)
    try:
        async for message in page:  # the page only listens; actions go over HTTP
            if message.type == WSMsgType.ERROR:
                break
    finally:
        request.app[PAGES].discard(page)
    return page
