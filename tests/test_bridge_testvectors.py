"""bridge/testvectors/ are the truth the C# and GDScript codecs are tested on: check them here.

msgpack vectors against the ``msgpack`` library; ZMTP vectors against the bytes a real libzmq
(pyzmq) sends on a raw loopback TCP socket, and against what real libzmq sockets accept.
"""

import importlib.util
import json
import socket
import struct
import time
from pathlib import Path

import msgpack
import pytest
import zmq

VECTORS = Path(__file__).resolve().parents[1] / "bridge" / "testvectors"


def load_generator():
    spec = importlib.util.spec_from_file_location("testvectors_generate", VECTORS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load_generator()
MSGPACK = json.loads((VECTORS / "msgpack.json").read_text(encoding="utf-8"))["vectors"]
ZMTP = {v["name"]: v for v in json.loads((VECTORS / "zmtp.json").read_text(encoding="utf-8"))["vectors"]}


def zmtp(name: str) -> bytes:
    return bytes.fromhex(ZMTP[name]["hex"])


def test_the_files_are_what_generate_writes():
    for filename, (description, vectors) in generate.documents().items():
        on_disk = json.loads((VECTORS / filename).read_text(encoding="utf-8"))
        assert on_disk == json.loads(json.dumps({"description": description, "vectors": vectors})), filename


def same(decoded, expected) -> bool:
    """Equal and of the same msgpack family (bool is not int, bytes is not str)."""
    if type(decoded) is not type(expected):
        return False
    if isinstance(expected, list):
        return len(decoded) == len(expected) and all(same(a, b) for a, b in zip(decoded, expected))
    if isinstance(expected, dict):
        return list(decoded) == list(expected) and all(same(decoded[k], expected[k]) for k in expected)
    return decoded == expected


# The first byte each size class starts with (msgpack spec), checked against the vectors' names.
FAMILY_BYTES = {
    "nil": (0xC0, 0xC0), "false": (0xC2, 0xC2), "true": (0xC3, 0xC3),
    "positive fixint": (0x00, 0x7F), "negative fixint": (0xE0, 0xFF),
    "uint8": (0xCC, 0xCC), "uint16": (0xCD, 0xCD), "uint32": (0xCE, 0xCE), "uint64": (0xCF, 0xCF),
    "int8": (0xD0, 0xD0), "int16": (0xD1, 0xD1), "int32": (0xD2, 0xD2), "int64": (0xD3, 0xD3),
    "float32": (0xCA, 0xCA), "float64": (0xCB, 0xCB),
    "fixstr": (0xA0, 0xBF), "str8": (0xD9, 0xD9), "str16": (0xDA, 0xDA), "str32": (0xDB, 0xDB),
    "bin8": (0xC4, 0xC4), "bin16": (0xC5, 0xC5), "bin32": (0xC6, 0xC6),
    "fixarray": (0x90, 0x9F), "array16": (0xDC, 0xDC), "array32": (0xDD, 0xDD),
    "fixmap": (0x80, 0x8F), "map16": (0xDE, 0xDE), "map32": (0xDF, 0xDF),
    "request": (0x80, 0x8F), "reply": (0x80, 0x8F), "event": (0x80, 0x8F),
}


def family(name: str) -> str:
    words = name.split()
    return " ".join(words[:2]) if " ".join(words[:2]) in FAMILY_BYTES else words[0]


def test_every_size_class_the_protocol_uses_has_a_vector():
    covered = {family(v["name"]) for v in MSGPACK}
    assert covered == set(FAMILY_BYTES)


@pytest.mark.parametrize("vector", MSGPACK, ids=[v["name"] for v in MSGPACK])
def test_msgpack_vector(vector):
    raw = bytes.fromhex(vector["hex"])
    low, high = FAMILY_BYTES[family(vector["name"])]
    assert low <= raw[0] <= high, f"{vector['name']} starts with {raw[0]:#04x}"
    expected = generate.to_python(vector["value"])
    assert same(msgpack.unpackb(raw, raw=False, strict_map_key=False), expected)
    if vector["value"]["type"].startswith("float"):
        width = {"float32": ">f", "float64": ">d"}[vector["value"]["type"]]
        assert struct.pack(width, vector["value"]["value"]).hex() == vector["value"]["bits"]
    if vector["canonical"]:
        assert msgpack.packb(expected, use_bin_type=True) == raw
    else:
        assert vector["value"]["type"] == "float32" or msgpack.packb(expected, use_bin_type=True) != raw


# --- ZMTP: a raw TCP peer on loopback facing a real libzmq socket ---

def receive_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, f"peer closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def receive_frame(conn: socket.socket) -> bytes:
    """One whole frame, header included."""
    flags = receive_exactly(conn, 1)
    if flags[0] & 2:
        size_bytes = receive_exactly(conn, 8)
        return flags + size_bytes + receive_exactly(conn, struct.unpack(">Q", size_bytes)[0])
    size = receive_exactly(conn, 1)
    return flags + size + receive_exactly(conn, size[0])


def receive_available(conn: socket.socket, size: int, timeout: float = 5.0) -> bytes:
    conn.settimeout(timeout)
    return receive_exactly(conn, size)


class RawServer:
    """A listening TCP socket that a libzmq client connects to; speaks the NULL handshake by hand."""

    def __init__(self, kind: int, peer_minor: int = 0, identity: bytes | None = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.context = zmq.Context()
        self.client = self.context.socket(kind)
        self.client.linger = 0
        if identity is not None:
            self.client.setsockopt(zmq.ROUTING_ID, identity)
        self.client.connect(f"tcp://127.0.0.1:{self.listener.getsockname()[1]}")
        self.listener.settimeout(5)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(5)
        self.conn.sendall(generate.greeting(peer_minor))
        self.greeting = receive_exactly(self.conn, 64)
        self.ready = receive_frame(self.conn)
        peer_type = b"ROUTER" if kind == zmq.DEALER else b"PUB"
        self.conn.sendall(generate.ready([("Socket-Type", peer_type)]))

    def close(self):
        self.client.close()
        self.conn.close()
        self.listener.close()
        self.context.term()


@pytest.fixture
def raw_server():
    servers = []

    def make(*args, **kwargs):
        servers.append(RawServer(*args, **kwargs))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_dealer_sends_the_greeting_ready_and_frames(raw_server):
    server = raw_server(zmq.DEALER)
    assert server.greeting == zmtp("greeting libzmq 4.3 DEALER")
    assert server.ready == zmtp("READY DEALER empty Identity")
    messages = [
        ([b""], ["frame empty"]),
        ([b"hello"], ["frame short final"]),
        ([b"a", b"x" * 300], ["frame short more", "frame long final 300 bytes"]),
        ([b"x" * 300, b"hello"], ["frame long more 300 bytes", "frame short final"]),
        ([b"y" * 255], ["frame short 255 bytes"]),
        ([b"z" * 256], ["frame long 256 bytes"]),
    ]
    for frames, names in messages:
        server.client.send_multipart(frames)
        expected = b"".join(zmtp(name) for name in names)
        assert receive_available(server.conn, len(expected)) == expected, names
    for name in ZMTP:
        if ZMTP[name]["kind"] == "frame":
            vector = ZMTP[name]
            assert generate.frame(bytes.fromhex(vector["body_hex"]), vector["more"]).hex() == vector["hex"]


def test_dealer_with_identity_sends_it(raw_server):
    server = raw_server(zmq.DEALER, identity=b"abc")
    assert server.greeting == zmtp("greeting libzmq 4.3 DEALER identity abc")
    assert server.ready == zmtp("READY DEALER Identity abc")


def test_sub_sends_ready_and_zmtp_3_0_subscriptions_to_a_3_0_peer(raw_server):
    server = raw_server(zmq.SUB, identity=b"abc")  # a SUB sends no Identity even when it has one
    assert server.ready == zmtp("READY SUB")
    server.client.setsockopt(zmq.SUBSCRIBE, b"beat")
    assert receive_available(server.conn, 7) == zmtp("subscribe 3.0 beat")
    server.client.setsockopt(zmq.SUBSCRIBE, b"")
    assert receive_available(server.conn, 3) == zmtp("subscribe 3.0 everything")
    server.client.setsockopt(zmq.UNSUBSCRIBE, b"beat")
    assert receive_available(server.conn, 7) == zmtp("cancel 3.0 beat")


def test_sub_sends_the_3_1_command_to_a_3_1_peer(raw_server):
    server = raw_server(zmq.SUB, peer_minor=1)
    server.client.setsockopt(zmq.SUBSCRIBE, b"beat")
    expected = zmtp("subscribe 3.1 command beat")
    assert receive_available(server.conn, len(expected)) == expected


def connect_raw(address: str, ready_name: str) -> tuple[socket.socket, bytes, bytes]:
    """Connect to a real libzmq server socket as a hand-written ZMTP 3.0 client; return its greeting and READY."""
    host, port = address.rsplit("//", 1)[1].rsplit(":", 1)
    conn = socket.create_connection((host, int(port)), timeout=5)
    conn.sendall(zmtp("greeting client NULL 3.0") + zmtp(ready_name))
    return conn, receive_exactly(conn, 64), receive_frame(conn)


@pytest.mark.parametrize("ready_name,identity", [
    ("READY DEALER", None), ("READY DEALER empty Identity", None), ("READY DEALER Identity abc", b"abc"),
])
def test_router_accepts_the_client_greeting_and_ready(ready_name, identity):
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    address = router.bind_to_random_port("tcp://127.0.0.1")
    conn, greeting, ready = connect_raw(f"tcp://127.0.0.1:{address}", ready_name)
    try:
        assert greeting == zmtp("greeting libzmq 4.3 DEALER")  # a ROUTER greets as a DEALER without identity does
        assert ready == zmtp("READY ROUTER")
        request = next(v for v in MSGPACK if v["name"] == "request hello")
        body = bytes.fromhex(request["hex"])
        conn.sendall(generate.frame(body))
        assert router.poll(5000), "the ROUTER got no message from the raw client"
        peer, received = router.recv_multipart()
        assert received == body
        if identity is not None:
            assert peer == identity
        reply = bytes.fromhex(next(v for v in MSGPACK if v["name"] == "reply ok queued")["hex"])
        router.send_multipart([peer, reply])
        assert receive_available(conn, 2 + len(reply)) == generate.frame(reply)
    finally:
        conn.close()
        router.close()
        context.term()


@pytest.mark.parametrize("ready_name", ["READY SUB", "READY SUB Identity abc"])
def test_pub_accepts_the_client_subscription_and_sends_the_event_message(ready_name):
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.linger = 0
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    conn, greeting, ready = connect_raw(f"tcp://127.0.0.1:{port}", ready_name)
    try:
        assert ready == zmtp("READY PUB")
        conn.sendall(zmtp("subscribe 3.0 beat"))
        vector = ZMTP["event message beat"]
        frames = [bytes.fromhex(f["body_hex"]) for f in vector["frames"]]
        expected = zmtp("event message beat")
        conn.settimeout(0.05)
        received = b""
        deadline = time.monotonic() + 5
        while len(received) < len(expected) and time.monotonic() < deadline:
            pub.send_multipart([b"bar", frames[1]])  # filtered out: the client subscribed to "beat" only
            pub.send_multipart(frames)  # dropped until the subscription has arrived (slow joiner)
            try:
                received += conn.recv(4096)
            except socket.timeout:
                pass
        assert received[:len(expected)] == expected
        assert len(received) % len(expected) == 0 and received == expected * (len(received) // len(expected))
    finally:
        conn.close()
        pub.close()
        context.term()
