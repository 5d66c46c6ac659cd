"""Refuse requests from other sites: a foreign ``Origin`` (cross-site requests) or
``Host`` (DNS rebinding) gets 403, for HTTP and WebSocket alike."""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

LOCAL_HOSTS = ("127.0.0.1", "localhost")
HOSTS = web.AppKey("allowed_hosts", set)
"""The ``Host`` values admitted: filled in once the studio knows its port."""


def allowed_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values of this studio's own page."""
    return frozenset(f"{host}:{port}" for host in LOCAL_HOSTS)


@web.middleware
async def same_origin_only(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    hosts = request.app[HOSTS]
    host = request.headers.get("Host", "")
    if host not in hosts:
        raise web.HTTPForbidden(text=f"host {host[:80]!r} is not this studio; open the address it printed\n")
    origin = request.headers.get("Origin")
    # Browsers send Origin on cross-site requests and WebSockets; tools like curl send none.
    if origin is not None and origin.removeprefix("http://") not in hosts:
        raise web.HTTPForbidden(text=f"requests from {origin[:80]!r} are refused\n")
    return await handler(request)
