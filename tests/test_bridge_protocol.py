"""Protocol v1 validation on real msgpack bytes (no sockets)."""

import math

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_music.bridge import protocol as p
from adaptive_music.bridge.limits import ClientBuckets, LatestWins, Limits, TokenBucket

LIMITS = Limits()


def frame(**fields):
    return msgpack.packb({"v": 1, "id": 7, **fields}, use_bin_type=True)


def error_of(data: bytes) -> p.BridgeError:
    with pytest.raises(p.BridgeError) as info:
        p.parse_request(data, LIMITS)
    return info.value


def test_valid_requests_are_normalised():
    r = p.parse_request(frame(type="set_mood", text="calm", transition={"quantize": "bar", "ramp": 2}), LIMITS)
    assert (r.id, r.type, dict(r.args)) == (7, "set_mood", {"text": "calm", "transition": {"quantize": "bar", "ramp": 2.0}})
    r = p.parse_request(frame(type="set_param", name="intensity", value=1), LIMITS)
    assert r.args == {"name": "intensity", "value": 1.0} and type(r.args["value"]) is float
    r = p.parse_request(frame(type="event", name="hit", params={"danger": 0.5, "who": "orc", "x": None}), LIMITS)
    assert r.args["params"] == {"danger": 0.5, "who": "orc", "x": None}
    for kind in ("hello", "status", "pause", "resume"):
        assert p.parse_request(frame(type=kind), LIMITS).type == kind


def test_unknown_fields_and_nil_optionals_are_ignored():
    r = p.parse_request(frame(type="set_mood", text="calm", transition=None, colour="blue", x=[1, 2]), LIMITS)
    assert dict(r.args) == {"text": "calm"}


@pytest.mark.parametrize(
    "data, code, has_id",
    [
        (b"\xc1", p.BAD_REQUEST, False),  # reserved byte: not msgpack
        (b"\x92\x01\x02", p.BAD_REQUEST, False),  # an array, not a map
        (msgpack.packb({"v": 1, "id": 1, "type": "status"}) + b"\x00", p.BAD_REQUEST, False),  # trailing bytes
        (msgpack.packb({1: 2}), p.BAD_REQUEST, False),  # int map key
        (msgpack.packb({"v": 1, "id": -1, "type": "status"}), p.BAD_REQUEST, False),
        (msgpack.packb({"v": 1, "id": True, "type": "status"}), p.BAD_REQUEST, False),
        (msgpack.packb({"v": 1, "id": "7", "type": "status"}), p.BAD_REQUEST, False),
        (msgpack.packb({"id": 1, "type": "status"}), p.BAD_REQUEST, True),
        (msgpack.packb({"v": 2, "id": 1, "type": "status"}), p.BAD_VERSION, True),
        (msgpack.packb({"v": "1", "id": 1, "type": "status"}), p.BAD_VERSION, True),
        (msgpack.packb({"v": 1, "id": 1}), p.BAD_REQUEST, True),
        (msgpack.packb({"v": 1, "id": 1, "type": "teleport"}), p.UNKNOWN_TYPE, True),
        (frame(type="set_mood"), p.BAD_REQUEST, True),
        (frame(type="set_mood", text=""), p.BAD_REQUEST, True),
        (frame(type="set_mood", text=5), p.BAD_REQUEST, True),
        (frame(type="set_mood", text="x" * 1001), p.TOO_LARGE, True),
        (frame(type="set_mood", text="a", transition={"quantize": "later"}), p.BAD_REQUEST, True),
        (frame(type="set_mood", text="a", transition={"ramp": -1}), p.BAD_REQUEST, True),
        (frame(type="set_mood", text="a", transition={"ramp": math.inf}), p.BAD_REQUEST, True),
        (frame(type="set_mood", text="a", transition=[1]), p.BAD_REQUEST, True),
        (frame(type="set_param", name="intensity", value=math.nan), p.BAD_REQUEST, True),
        (frame(type="set_param", name="intensity", value=True), p.BAD_REQUEST, True),
        (frame(type="set_param", name="intensity"), p.BAD_REQUEST, True),
        (frame(type="event", name="x" * 101), p.TOO_LARGE, True),
        (frame(type="event", name="x", params={str(i): i for i in range(33)}), p.TOO_LARGE, True),
        (frame(type="event", name="x", params={"a": [1]}), p.BAD_REQUEST, True),
        (frame(type="event", name="x", params={"a": math.nan}), p.BAD_REQUEST, True),
        (frame(type="stinger", name=b"bytes"), p.BAD_REQUEST, True),
    ],
)
def test_bad_requests_get_their_code(data, code, has_id):
    error = error_of(data)
    assert error.code == code, error.message
    assert (error.id == 1 or error.id == 7) if has_id else error.id is None
    assert error.message


def test_deep_nesting_and_huge_declared_lengths_are_refused():
    assert error_of(b"\x91" * 100_000 + b"\xc0").code == p.BAD_REQUEST
    assert error_of(b"\xdd\xff\xff\xff\xff").code == p.BAD_REQUEST  # array32 of 4 G items, no body


def test_replies_encode_numpy_values():
    data = p.pack(p.ok_reply(3, {"bpm": np.float32(120.0), "bar": np.int64(4), "tags": frozenset({"a"})}))
    assert msgpack.unpackb(data) == {"v": 1, "id": 3, "ok": True, "bpm": 120.0, "bar": 4, "tags": ["a"]}


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_parse_raises_only_bridge_errors_on_random_bytes(data):
    try:
        p.parse_request(data, LIMITS)
    except p.BridgeError as exc:
        assert exc.code in (p.BAD_REQUEST, p.BAD_VERSION, p.UNKNOWN_TYPE, p.TOO_LARGE)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20) | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(p.REQUEST_TYPES), st.dictionaries(st.sampled_from(["text", "name", "value", "params", "transition", "v", "id"]), values))
def test_parse_on_random_fields_of_known_types(kind, fields):
    data = msgpack.packb({"v": 1, "id": 1, "type": kind, **fields}, use_bin_type=True)
    try:
        request = p.parse_request(data, LIMITS)
    except p.BridgeError:
        return
    assert request.type == kind
    for value in request.args.values():
        assert not (isinstance(value, float) and not math.isfinite(value))


def test_token_bucket_allows_burst_then_rate():
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.05)
    assert bucket.take(0.1)


def test_client_buckets_forget_the_least_recently_seen():
    buckets = ClientBuckets(rate=1, burst=1, capacity=2)
    assert buckets.take(b"a", 0.0) and buckets.take(b"b", 0.0)
    assert not buckets.take(b"a", 0.0)
    assert buckets.take(b"c", 0.0) and len(buckets) == 2  # "b" forgotten
    assert buckets.take(b"b", 0.0)


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="requests_per_second"):
        Limits(requests_per_second=0)


def test_latest_wins_passes_one_value_per_interval():
    gate = LatestWins(interval=0.1)
    assert gate.offer("a", now=0.0) is True and gate.due() is None
    assert gate.offer("b", now=0.01) is False and gate.offer("c", now=0.02) is False
    assert gate.coalesced == 1 and gate.due() == pytest.approx(0.1)
    assert gate.take(now=0.05) is None
    assert gate.take(now=0.1) == "c" and gate.take(now=0.5) is None
    assert gate.offer("d", now=0.15) is False  # 0.05 s after "c" passed
    assert gate.take(now=0.2) == "d"
