"""Browser audio: the page plays the music itself, its AudioWorklet pulling PCM over a WebSocket.

With ``--output engine`` the soundtrack waits to be pulled, as a game engine
pulls it (``audio_open``/``audio_pull``, bridge/PROTOCOL.md 1.1). Here the
browser's audio clock is that engine: the worklet asks for frames as it plays
them, each ask becomes an ``audio_pull`` on an
:class:`~adaptive_music.bridge.EngineStream` of the page's own, and the block
goes back as one binary message: the stream position (uint64 LE) then float32
LE interleaved PCM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import struct

from aiohttp import WSMsgType, web

from ..bridge.client import EngineStream
from ..bridge.protocol import BridgeError

POSITION = struct.Struct("<Q")
PULL_TIMEOUT = 10.0
"""Seconds a pull waits for the soundtrack. A page rides out a stall shorter than this (a busy
machine, a debugger): its worklet underruns, counted, then plays on from the same position.
An engine's audio thread waits less (EngineStream's 2 s); a page has nothing else to do."""


async def audio_socket(request: web.Request, commands: str, timeout: float = PULL_TIMEOUT) -> web.WebSocketResponse:
    """Serve one page's pulls: ``{"open": {"sample_rate", "channels"}}`` once, then ``{"pull": frames}``.

    A failure is sent as ``{"error": message}`` before the socket closes.
    """
    page = web.WebSocketResponse(max_msg_size=1024, compress=False)  # deflating PCM costs the loop, saves little
    await page.prepare(request)
    loop = asyncio.get_running_loop()
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-audio")
    stream: EngineStream | None = None
    try:
        async for message in page:
            if message.type != WSMsgType.TEXT:
                break
            ask = json.loads(message.data)
            if stream is None:
                opened = ask.get("open") or {}
                stream = await loop.run_in_executor(
                    worker, lambda: EngineStream(commands, int(opened.get("sample_rate", 48000)),
                                                 int(opened.get("channels", 2)), timeout=timeout))
                await page.send_json({"sample_rate": stream.sample_rate, "channels": stream.channels,
                                      "position": stream.position, "max_frames": stream.max_frames})
                continue
            position, pcm = await loop.run_in_executor(worker, stream.pull, int(ask["pull"]))
            await page.send_bytes(POSITION.pack(position) + pcm.astype("<f4", copy=False).tobytes())
    except BridgeError as exc:  # not an engine output, or a bad size: the page shows why
        await page.send_json({"error": exc.message})
    except TimeoutError as exc:  # the soundtrack stalled for longer than the page waits
        await page.send_json({"error": f"{exc}: press Listen to try again"})
    except (ValueError, KeyError, TypeError) as exc:
        await page.send_json({"error": f"bad audio request: {exc}"})
    except ConnectionError:  # the page went away mid-reply
        pass
    finally:
        if stream is not None:
            await loop.run_in_executor(worker, stream.close)
        worker.shutdown(wait=False)
        await page.close()
    return page
