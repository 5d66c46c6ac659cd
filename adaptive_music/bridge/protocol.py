"""Protocol v1 of the bridge: wire encoding and request validation.

Every request is one ZeroMQ frame holding a msgpack map with ``v`` (1),
``id`` (an unsigned int chosen by the client) and ``type``. Every reply is a
map with the same ``id`` and ``ok``; on failure it carries
``error: {code, message}``. bridge/PROTOCOL.md is the normative description.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

import msgpack

from .limits import Limits

VERSION = 1
MINOR_VERSION = 1
"""1.1 adds ``audio_open``/``audio_pull`` (engine output); 1.0 clients never see a difference."""
DEFAULT_COMMANDS = "tcp://127.0.0.1:5555"
DEFAULT_EVENTS = "tcp://127.0.0.1:5556"

TOPICS = ("beat", "bar", "mood", "status", "error")
QUANTIZE = ("now", "beat", "bar")
PARAMS = ("intensity",)
MAX_RAMP_SECONDS = 600.0
MAX_ID = 2**64 - 1

# Error codes (the ``error.code`` field of a failed reply).
BAD_REQUEST = "bad_request"
BAD_VERSION = "bad_version"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_EVENT = "unknown_event"
TOO_LARGE = "too_large"
RATE_LIMITED = "rate_limited"
INTERNAL = "internal"


class BridgeError(Exception):
    """A request failed: ``code`` is one of the protocol's error codes."""

    def __init__(self, code: str, message: str, id: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.id = id


@dataclasses.dataclass(frozen=True)
class Request:
    """A validated request: ``args`` holds the known fields of ``type``, normalised."""

    id: int
    type: str
    args: Mapping[str, Any]


def pack(obj: Any) -> bytes:
    """Encode ``obj`` as msgpack; numpy scalars and arrays become plain values."""
    return msgpack.packb(obj, use_bin_type=True, default=_plain)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a bridge message")


def unpack(frame: bytes, limits: Limits) -> Any:
    """Decode one msgpack frame: str keys only, lengths bounded, no code execution."""
    n = limits.max_message_bytes
    return msgpack.unpackb(
        frame,
        raw=False,
        strict_map_key=True,
        max_str_len=n,
        max_bin_len=n,
        max_array_len=n,
        max_map_len=n,
        max_ext_len=n,
    )


def ok_reply(id: int, fields: Mapping[str, Any] | None = None) -> dict:
    reply = {"v": VERSION, "id": id, "ok": True}
    if fields:
        reply.update(fields)
    return reply


def error_reply(id: int | None, code: str, message: str) -> dict:
    return {"v": VERSION, "id": id, "ok": False, "error": {"code": code, "message": message}}


def parse_request(frame: bytes, limits: Limits) -> Request:
    """Validate one request frame; raise BridgeError (with ``id`` when known)."""
    try:
        msg = unpack(frame, limits)
    except Exception as exc:  # msgpack raises several unrelated types for bad bytes
        raise BridgeError(BAD_REQUEST, f"not a valid msgpack message ({type(exc).__name__})") from None
    if not isinstance(msg, dict):
        raise BridgeError(BAD_REQUEST, f"a request must be a msgpack map, got {_kind(msg)}")
    id = msg.get("id")
    if not (type(id) is int and 0 <= id <= MAX_ID):
        raise BridgeError(BAD_REQUEST, "field 'id' must be an unsigned integer")
    v = msg.get("v")
    if v is None:
        raise BridgeError(BAD_REQUEST, "missing field 'v' (the protocol version)", id)
    if type(v) is not int or v != VERSION:
        raise BridgeError(BAD_VERSION, f"protocol version {v!r} is not supported; this server speaks {VERSION}", id)
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise BridgeError(BAD_REQUEST, "field 'type' must be a string", id)
    schema = _SCHEMAS.get(kind)
    if schema is None:
        shown = kind if len(kind) <= 40 else kind[:40] + "..."
        raise BridgeError(UNKNOWN_TYPE, f"unknown request type {shown!r}; known: {', '.join(_SCHEMAS)}", id)
    args = {}
    for name, (required, check) in schema.items():
        if name not in msg or msg[name] is None:
            if required:
                raise BridgeError(BAD_REQUEST, f"{kind}: missing field {name!r}", id)
            continue
        try:
            args[name] = check(msg[name], limits)
        except BridgeError as exc:
            raise BridgeError(exc.code, f"{kind}: field {name!r} {exc.message}", id) from None
    return Request(id=id, type=kind, args=args)


# Field checks: return the normalised value or raise BridgeError(code, "what is wrong").


def _kind(value: Any) -> str:
    return {dict: "map", list: "array", str: "string", bytes: "binary", bool: "boolean"}.get(
        type(value), "nil" if value is None else type(value).__name__
    )


def _string(value: Any, max_chars: int) -> str:
    if not isinstance(value, str):
        raise BridgeError(BAD_REQUEST, f"must be a string, got {_kind(value)}")
    if len(value) > max_chars:
        raise BridgeError(TOO_LARGE, f"is {len(value)} characters long; the limit is {max_chars}")
    if not value.strip():
        raise BridgeError(BAD_REQUEST, "must not be empty")
    return value


def _text(value: Any, limits: Limits) -> str:
    return _string(value, limits.max_text_chars)


def _name(value: Any, limits: Limits) -> str:
    return _string(value, limits.max_name_chars)


def _number(value: Any, limits: Limits) -> float:
    if type(value) not in (int, float):
        raise BridgeError(BAD_REQUEST, f"must be a number, got {_kind(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise BridgeError(BAD_REQUEST, f"must be a finite number, got {value!r}")
    return x


def _integer(value: Any, limits: Limits) -> int:
    if type(value) is not int:
        raise BridgeError(BAD_REQUEST, f"must be an integer, got {_kind(value)}")
    return value


def _transition(value: Any, limits: Limits) -> dict:
    if not isinstance(value, dict):
        raise BridgeError(BAD_REQUEST, f"must be a map, got {_kind(value)}")
    out = {}
    quantize = value.get("quantize")
    if quantize is not None:
        if quantize not in QUANTIZE:
            raise BridgeError(BAD_REQUEST, f"quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r:.60}")
        out["quantize"] = quantize
    ramp = value.get("ramp")
    if ramp is not None:
        try:
            ramp = _number(ramp, limits)
        except BridgeError as exc:
            raise BridgeError(exc.code, f"ramp {exc.message}") from None
        if not 0.0 <= ramp <= MAX_RAMP_SECONDS:
            raise BridgeError(BAD_REQUEST, f"ramp must be between 0 and {MAX_RAMP_SECONDS:g} seconds, got {ramp:g}")
        out["ramp"] = ramp
    return out


def _params(value: Any, limits: Limits) -> dict:
    if not isinstance(value, dict):
        raise BridgeError(BAD_REQUEST, f"must be a map, got {_kind(value)}")
    if len(value) > limits.max_params:
        raise BridgeError(TOO_LARGE, f"has {len(value)} entries; the limit is {limits.max_params}")
    out = {}
    for key, item in value.items():
        if len(key) > limits.max_name_chars:
            raise BridgeError(TOO_LARGE, f"has a key of {len(key)} characters; the limit is {limits.max_name_chars}")
        if isinstance(item, float) and not math.isfinite(item):
            raise BridgeError(BAD_REQUEST, f"entry {key!r:.60} must be finite, got {item!r}")
        if isinstance(item, str) and len(item) > limits.max_text_chars:
            raise BridgeError(TOO_LARGE, f"entry {key!r:.60} is longer than {limits.max_text_chars} characters")
        if not (item is None or type(item) in (bool, int, float, str)):
            raise BridgeError(BAD_REQUEST, f"entry {key!r:.60} must be nil, a boolean, a number or a string")
        out[key] = item
    return out


_Check = Callable[[Any, Limits], Any]
_SCHEMAS: dict[str, dict[str, tuple[bool, _Check]]] = {
    "hello": {},
    "set_mood": {"text": (True, _text), "transition": (False, _transition)},
    "event": {"name": (True, _name), "params": (False, _params)},
    "set_param": {"name": (True, _name), "value": (True, _number)},
    "stinger": {"name": (True, _text)},
    "status": {},
    "pause": {},
    "resume": {},
    "audio_open": {"sample_rate": (True, _integer), "channels": (True, _integer)},
    "audio_pull": {"frames": (True, _integer)},
}
REQUEST_TYPES = tuple(_SCHEMAS)
AUDIO_TYPES = ("audio_open", "audio_pull")
"""Usable only when the server's output is ``engine``."""
