"""Write the bridge test vectors (msgpack.json, zmtp.json) shared by the Python, C# and GDScript code.

Run from the repository root: ``python bridge/testvectors/generate.py``. The msgpack hex comes
from the ``msgpack`` library; the ZMTP bytes are built here from RFC 23/37.
tests/test_bridge_testvectors.py checks both files against the library and against the bytes a
real libzmq sends and accepts on loopback, and that this script reproduces them.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import msgpack

HERE = Path(__file__).resolve().parent


# --- typed JSON values: JSON alone cannot tell int from float, str from bin, or keep 64-bit ints ---

def nil() -> dict:
    return {"type": "nil"}


def boolean(value: bool) -> dict:
    return {"type": "bool", "value": value}


def integer(value: int) -> dict:
    return {"type": "int", "value": str(value)}  # decimal text: exact for every 64-bit value


def float64(value: float) -> dict:
    return {"type": "float64", "value": value, "bits": struct.pack(">d", value).hex()}


def float32(value: float) -> dict:
    return {"type": "float32", "value": value, "bits": struct.pack(">f", value).hex()}


def text(value: str) -> dict:
    return {"type": "str", "value": value}


def binary(value: bytes) -> dict:
    return {"type": "bin", "hex": value.hex()}


def array(items: list) -> dict:
    return {"type": "array", "value": items}


def mapping(pairs: list[tuple[str, dict]]) -> dict:
    """A map with string keys, in encoding order (the bytes depend on it)."""
    return {"type": "map", "value": [[text(key), value] for key, value in pairs]}


def to_python(typed: dict) -> Any:
    """The Python value a typed JSON value stands for (float32 as its exact double)."""
    kind = typed["type"]
    if kind == "nil":
        return None
    if kind in ("bool", "str"):
        return typed["value"]
    if kind == "int":
        return int(typed["value"])
    if kind == "float64":
        return struct.unpack(">d", bytes.fromhex(typed["bits"]))[0]
    if kind == "float32":
        return struct.unpack(">f", bytes.fromhex(typed["bits"]))[0]
    if kind == "bin":
        return bytes.fromhex(typed["hex"])
    if kind == "array":
        return [to_python(item) for item in typed["value"]]
    if kind == "map":
        return {to_python(key): to_python(value) for key, value in typed["value"]}
    raise ValueError(f"unknown typed value {kind!r}")


def pack(typed: dict) -> bytes:
    """msgpack-python's canonical encoding (smallest size class; float32 only when asked for)."""
    return msgpack.packb(to_python(typed), use_bin_type=True, use_single_float=typed["type"] == "float32")


def pcm_block(frames: int, channels: int) -> bytes:
    """float32 LE interleaved, as audio_pull returns it: a quiet 441 Hz sine at 44.1 kHz."""
    samples = []
    for frame in range(frames):
        value = 0.25 * math.sin(2 * math.pi * frame / 100)
        samples.extend([value] * channels)
    return struct.pack(f"<{len(samples)}f", *samples)


def msgpack_vectors() -> list[dict]:
    canonical: list[tuple[str, dict]] = [
        ("nil", nil()),
        ("false", boolean(False)),
        ("true", boolean(True)),
        ("positive fixint 0", integer(0)),
        ("positive fixint 1", integer(1)),
        ("positive fixint 127", integer(127)),
        ("negative fixint -1", integer(-1)),
        ("negative fixint -32", integer(-32)),
        ("uint8 128", integer(128)),
        ("uint8 255", integer(255)),
        ("uint16 256", integer(256)),
        ("uint16 65535", integer(65535)),
        ("uint32 65536", integer(65536)),
        ("uint32 4294967295", integer(4294967295)),
        ("uint64 4294967296", integer(4294967296)),
        ("uint64 2^63-1", integer(2**63 - 1)),
        ("uint64 2^63", integer(2**63)),
        ("uint64 2^64-1", integer(2**64 - 1)),
        ("int8 -33", integer(-33)),
        ("int8 -128", integer(-128)),
        ("int16 -129", integer(-129)),
        ("int16 -32768", integer(-32768)),
        ("int32 -32769", integer(-32769)),
        ("int32 -2^31", integer(-(2**31))),
        ("int64 -2^31-1", integer(-(2**31) - 1)),
        ("int64 -2^63", integer(-(2**63))),
        ("float64 0.0", float64(0.0)),
        ("float64 1.5", float64(1.5)),
        ("float64 -0.25", float64(-0.25)),
        ("float64 0.1", float64(0.1)),
        ("float64 96.0", float64(96.0)),
        ("float64 1e300", float64(1e300)),
        ("fixstr empty", text("")),
        ("fixstr beat", text("beat")),
        ("fixstr 31 chars", text("a" * 31)),
        ("fixstr utf-8 (2-byte and 3-byte chars)", text("café ♪")),
        ("str8 32 chars", text("b" * 32)),
        ("str8 255 bytes", text("c" * 255)),
        ("str16 256 bytes", text("d" * 256)),
        ("str16 500 chars (max_text_chars)", text("tense stealth, muted strings; " * 16 + "0123456789" * 2)),
        ("bin8 empty", binary(b"")),
        ("bin8 4 bytes", binary(bytes([0, 1, 0xFE, 0xFF]))),
        ("bin8 255 bytes", binary(bytes(range(256))[:255])),
        ("bin16 256 bytes", binary(bytes(range(256)))),
        ("bin16 1000 bytes", binary(bytes(i % 251 for i in range(1000)))),
        ("bin32 65536 bytes (a full 8192-frame stereo pull)", binary(pcm_block(8192, 2))),
        ("fixarray empty", array([])),
        ("fixarray 3 mixed", array([integer(1), text("two"), nil()])),
        ("fixarray 15", array([integer(i) for i in range(15)])),
        ("array16 16", array([integer(i) for i in range(16)])),
        ("array16 300", array([integer(i) for i in range(300)])),
        ("fixmap empty", mapping([])),
        ("fixmap 1", mapping([("v", integer(1))])),
        ("fixmap 15", mapping([(f"k{i:02d}", integer(i)) for i in range(15)])),
        ("map16 16", mapping([(f"k{i:02d}", integer(i)) for i in range(16)])),
        ("map16 40", mapping([(f"key{i}", boolean(i % 2 == 0)) for i in range(40)])),
        ("request hello", mapping([("v", integer(1)), ("id", integer(1)), ("type", text("hello"))])),
        ("request set_mood with transition", mapping([
            ("v", integer(1)), ("id", integer(2)), ("type", text("set_mood")), ("text", text("tense stealth")),
            ("transition", mapping([("quantize", text("bar")), ("ramp", float64(2.0))])),
        ])),
        ("request event with params", mapping([
            ("v", integer(1)), ("id", integer(300)), ("type", text("event")), ("name", text("enemy_spotted")),
            ("params", mapping([("danger", float64(0.7)), ("boss", boolean(True)), ("wave", integer(3)),
                                ("who", text("guard")), ("note", nil())])),
        ])),
        ("request set_param", mapping([
            ("v", integer(1)), ("id", integer(70000)), ("type", text("set_param")), ("name", text("intensity")),
            ("value", float64(0.75)),
        ])),
        ("request audio_open", mapping([
            ("v", integer(1)), ("id", integer(2**32)), ("type", text("audio_open")),
            ("sample_rate", integer(48000)), ("channels", integer(2)),
        ])),
        ("request audio_pull", mapping([
            ("v", integer(1)), ("id", integer(2**64 - 1)), ("type", text("audio_pull")), ("frames", integer(1024)),
        ])),
        ("reply ok queued", mapping([("v", integer(1)), ("id", integer(2)), ("ok", boolean(True)),
                                     ("queued", boolean(False))])),
        ("reply error with id nil", mapping([
            ("v", integer(1)), ("id", nil()), ("ok", boolean(False)),
            ("error", mapping([("code", text("bad_request")), ("message", text("request is not a msgpack map"))])),
        ])),
        ("reply hello", mapping([
            ("v", integer(1)), ("id", integer(1)), ("ok", boolean(True)), ("server", text("adaptive-music")),
            ("protocol", integer(1)), ("protocol_minor", integer(1)), ("output", text("engine")),
            ("version", text("0.1.0")), ("sample_rate", integer(32000)), ("channels", integer(2)),
            ("backend", text("procedural")),
            ("types", array([text(t) for t in ("hello", "set_mood", "event", "set_param", "stinger", "status",
                                               "pause", "resume", "audio_open", "audio_pull")])),
            ("topics", array([text(t) for t in ("beat", "bar", "mood", "status", "error")])),
            ("limits", mapping([("max_message_bytes", integer(65536)), ("mood_interval", float64(0.1))])),
        ])),
        ("reply audio_open", mapping([
            ("v", integer(1)), ("id", integer(5)), ("ok", boolean(True)), ("sample_rate", integer(48000)),
            ("channels", integer(2)), ("position", integer(0)), ("ahead", float64(0.5)), ("max_frames", integer(8192)),
        ])),
        ("reply audio_pull 4 frames", mapping([
            ("v", integer(1)), ("id", integer(6)), ("ok", boolean(True)), ("position", integer(1224000)),
            ("frames", integer(4)), ("channels", integer(2)), ("pcm", binary(pcm_block(4, 2))),
        ])),
        ("reply audio_pull 1024 frames", mapping([
            ("v", integer(1)), ("id", integer(7)), ("ok", boolean(True)), ("position", integer(2**33)),
            ("frames", integer(1024)), ("channels", integer(2)), ("pcm", binary(pcm_block(1024, 2))),
        ])),
        ("event beat", mapping([
            ("bar", integer(12)), ("beat", integer(0)), ("beats_per_bar", integer(4)), ("bpm", float64(96.0)),
            ("sample", integer(1224000)), ("seconds", float64(25.5)),
        ])),
        ("event mood start", mapping([
            ("phase", text("start")), ("text", text("tense stealth")), ("intensity", float64(0.5)),
            ("sample", integer(1224000)), ("seconds", float64(25.5)),
        ])),
        ("event status", mapping([
            ("mood", text("calm exploration")), ("intensity", float64(0.3)), ("playhead", float64(12.25)),
            ("underruns", integer(0)), ("bar", nil()), ("beat", nil()), ("paused", boolean(False)),
            ("error", nil()), ("output", text("engine")), ("engine_rate", integer(44100)),
            ("position", integer(540225)), ("pulls", integer(528)),
        ])),
    ]
    vectors = [{"name": name, "value": value, "hex": pack(value).hex(), "canonical": True}
               for name, value in canonical]
    # Valid encodings in a wider size class or as float32: decoders must read them, encoders never write them.
    decode_only = [
        ("float32 1.5", float32(1.5), "ca3fc00000"),
        ("float32 -0.25", float32(-0.25), "cabe800000"),
        ("float32 3.4028234663852886e38 (largest)", float32(3.4028234663852886e38), "ca7f7fffff"),
        ("uint16 holding 1", integer(1), "cd0001"),
        ("uint32 holding 1", integer(1), "ce00000001"),
        ("uint64 holding 1", integer(1), "cf0000000000000001"),
        ("int8 holding 5", integer(5), "d005"),
        ("int16 holding -1", integer(-1), "d1ffff"),
        ("int32 holding 100000", integer(100000), "d2000186a0"),
        ("int64 holding -2", integer(-2), "d3fffffffffffffffe"),
        ("str8 holding 'ab'", text("ab"), "d9026162"),
        ("str16 holding 'ab'", text("ab"), "da00026162"),
        ("str32 holding 'ab'", text("ab"), "db000000026162"),
        ("bin16 holding 1 byte", binary(b"\x07"), "c5000107"),
        ("bin32 holding 1 byte", binary(b"\x07"), "c60000000107"),
        ("array16 holding 1", array([integer(1)]), "dc000101"),
        ("array32 holding 1", array([integer(1)]), "dd0000000101"),
        ("map16 holding 1", mapping([("v", integer(1))]), "de0001a17601"),
        ("map32 holding 1", mapping([("v", integer(1))]), "df00000001a17601"),
    ]
    vectors += [{"name": name, "value": value, "hex": hexed, "canonical": False} for name, value, hexed in decode_only]
    return vectors


# --- ZMTP 3.x, NULL mechanism ---

def greeting(minor: int, padding: bytes = bytes(8)) -> bytes:
    """The 64-byte greeting: signature (FF, 8 padding bytes, 7F), version, mechanism, as-server, filler."""
    return b"\xff" + padding + b"\x7f" + bytes([3, minor]) + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)


def frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    """One frame: flags (bit0 MORE, bit1 LONG, bit2 COMMAND), a 1- or 8-byte big-endian size, the body."""
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def ready(properties: list[tuple[str, bytes]]) -> bytes:
    body = b"\x05READY"
    for name, value in properties:
        body += bytes([len(name)]) + name.encode("ascii") + struct.pack(">I", len(value)) + value
    return frame(body, command=True)


def zmtp_vectors() -> list[dict]:
    def greeting_vector(name: str, minor: int, padding: bytes, libzmq: str, meaning: str) -> dict:
        return {"name": name, "kind": "greeting", "minor": minor, "hex": greeting(minor, padding).hex(),
                "libzmq": libzmq, "meaning": meaning}

    def ready_vector(name: str, properties: list[tuple[str, bytes]], libzmq: str) -> dict:
        return {"name": name, "kind": "command", "command": "READY",
                "properties": [[key, value.hex()] for key, value in properties],
                "hex": ready(properties).hex(), "libzmq": libzmq}

    def frame_vector(name: str, body: bytes, more: bool) -> dict:
        return {"name": name, "kind": "frame", "more": more, "body_hex": body.hex(),
                "hex": frame(body, more).hex(), "libzmq": "sends"}

    beat_body = pack(mapping([("bar", integer(12)), ("beat", integer(0)), ("beats_per_bar", integer(4)),
                              ("bpm", float64(96.0)), ("sample", integer(1224000)), ("seconds", float64(25.5))]))
    return [
        greeting_vector("greeting client NULL 3.0", 0, bytes(8), "accepts",
                        "What a ZMTP 3.0 client written from the RFC sends (zero padding); ROUTER and PUB accept it."),
        greeting_vector("greeting libzmq 4.3 DEALER", 1, bytes(7) + b"\x01", "sends",
                        "What a libzmq 4.3 DEALER with no identity sends: 3.1, padding byte 8 = identity length + 1."),
        greeting_vector("greeting libzmq 4.3 DEALER identity abc", 1, bytes(7) + b"\x04", "sends",
                        "The same with identity 'abc' (length 3 + 1 in the padding)."),
        ready_vector("READY DEALER", [("Socket-Type", b"DEALER")], "accepts"),
        ready_vector("READY DEALER empty Identity", [("Socket-Type", b"DEALER"), ("Identity", b"")],
                     "sends and accepts"),
        ready_vector("READY DEALER Identity abc", [("Socket-Type", b"DEALER"), ("Identity", b"abc")],
                     "sends and accepts"),
        ready_vector("READY SUB", [("Socket-Type", b"SUB")], "sends and accepts"),
        ready_vector("READY SUB Identity abc", [("Socket-Type", b"SUB"), ("Identity", b"abc")], "accepts"),
        ready_vector("READY ROUTER", [("Socket-Type", b"ROUTER"), ("Identity", b"")], "sends"),
        ready_vector("READY PUB", [("Socket-Type", b"PUB")], "sends"),
        frame_vector("frame empty", b"", False),
        frame_vector("frame short final", b"hello", False),
        frame_vector("frame short more", b"a", True),
        frame_vector("frame short 255 bytes", b"y" * 255, False),
        frame_vector("frame long 256 bytes", b"z" * 256, False),
        frame_vector("frame long final 300 bytes", b"x" * 300, False),
        frame_vector("frame long more 300 bytes", b"x" * 300, True),
        {"name": "subscribe 3.0 beat", "kind": "subscribe", "topic_hex": b"beat".hex(),
         "hex": frame(b"\x01beat").hex(), "libzmq": "sends and accepts",
         "meaning": "ZMTP 3.0: a message whose body is 01 + topic (what libzmq sends to a peer that greeted with minor 0)."},
        {"name": "subscribe 3.0 everything", "kind": "subscribe", "topic_hex": "",
         "hex": frame(b"\x01").hex(), "libzmq": "sends and accepts"},
        {"name": "cancel 3.0 beat", "kind": "cancel", "topic_hex": b"beat".hex(),
         "hex": frame(b"\x00beat").hex(), "libzmq": "sends"},
        {"name": "subscribe 3.1 command beat", "kind": "command", "command": "SUBSCRIBE", "topic_hex": b"beat".hex(),
         "hex": frame(b"\x09SUBSCRIBE" + b"beat", command=True).hex(), "libzmq": "sends",
         "meaning": "ZMTP 3.1 form, sent to a peer that greeted with minor 1; a 3.0 client never sends it."},
        {"name": "event message beat", "kind": "message",
         "frames": [{"more": True, "body_hex": b"beat".hex()}, {"more": False, "body_hex": beat_body.hex()}],
         "hex": (frame(b"beat", True) + frame(beat_body)).hex(), "libzmq": "sends",
         "meaning": "A PUB event as the SUB receives it: topic frame (MORE), msgpack map frame."},
    ]


def write(path: Path, description: str, vectors: list[dict]) -> None:
    document = {"description": description, "vectors": vectors}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def documents() -> dict[str, tuple[str, list[dict]]]:
    return {
        "msgpack.json": (
            "msgpack encodings. value is typed: int as decimal text, float with its IEEE bits (big-endian hex), "
            "bin as hex, map as [key, value] pairs in encoding order. canonical: true means an encoder that picks "
            "the smallest size class (and float64 for floats) must produce exactly hex; every decoder must read "
            "every vector.",
            msgpack_vectors()),
        "zmtp.json": (
            "ZMTP 3.x NULL-mechanism bytes. libzmq: 'sends' = libzmq 4.3 sends exactly these bytes, 'accepts' = "
            "a libzmq peer completes the handshake and exchanges messages with them.",
            zmtp_vectors()),
    }


if __name__ == "__main__":
    for filename, (description, vectors) in documents().items():
        write(HERE / filename, description, vectors)
