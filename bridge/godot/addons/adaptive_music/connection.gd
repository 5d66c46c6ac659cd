class_name AdaptiveMusicConnection
extends RefCounted
## One ZMTP 3.0 connection (a DEALER or a SUB) over StreamPeerTCP, driven by poll(): it never
## blocks, reconnects with exponential back-off after any failure, and replays its
## subscriptions after each reconnect. One connection belongs to one thread.

enum State { IDLE, CONNECTING, HANDSHAKING, READY, WAITING }

const PEER_TYPES := {"DEALER": ["ROUTER"], "SUB": ["PUB", "XPUB"]}

var socket_type: String
var host := ""
var port := 0
var connect_timeout_ms := 2000
var reconnect_min_ms := 100
var reconnect_max_ms := 5000
## Bytes of messages waiting to be written; send() refuses more past this.
var max_outgoing_bytes := 1024 * 1024
var max_frame_bytes := 16 * 1024 * 1024
var state := State.IDLE
var last_error := ""
## Successful handshakes so far (the first one is not a reconnect).
var connections := 0

var _peer: StreamPeerTCP
var _parser: AdaptiveMusicZmtp.Parser
var _outgoing := PackedByteArray()
var _subscriptions := []
var _deadline_ms := 0
var _retry_ms := 0


func _init(type: String, address: String) -> void:
	socket_type = type
	var parsed := parse_address(address)
	host = parsed.get("host", "")
	port = parsed.get("port", 0)
	last_error = parsed.get("error", "")
	_retry_ms = reconnect_min_ms


## "tcp://127.0.0.1:5555" -> {"host": "127.0.0.1", "port": 5555}, or {"error": String}.
static func parse_address(address: String) -> Dictionary:
	if not address.begins_with("tcp://"):
		return {"error": "address %s: only tcp://HOST:PORT is supported" % address}
	var rest := address.substr(6)
	var colon := rest.rfind(":")
	var port_text := rest.substr(colon + 1) if colon > 0 else ""
	if not port_text.is_valid_int() or port_text.to_int() < 1 or port_text.to_int() > 65535:
		return {"error": "address %s: no valid port" % address}
	return {"host": rest.substr(0, colon), "port": port_text.to_int()}


## Starts connecting (at the next poll); does nothing if the address is invalid.
func open(now_ms: int) -> void:
	if host == "":
		return
	state = State.WAITING
	_deadline_ms = now_ms


## Closes the socket without waiting; no reconnect follows.
func close() -> void:
	_drop()
	state = State.IDLE


## Adds a subscription (SUB only); sent now if connected, and after every reconnect.
func subscribe(topic: String) -> void:
	_subscriptions.append(topic)
	if state == State.READY:
		_outgoing.append_array(AdaptiveMusicZmtp.subscription(topic))


## Queues a multipart message; false when not connected or too much is already waiting.
func send(frames: Array) -> bool:
	if state != State.READY or _outgoing.size() > max_outgoing_bytes:
		return false
	_outgoing.append_array(AdaptiveMusicZmtp.message(frames))
	_flush()
	return true


func is_ready() -> bool:
	return state == State.READY


## Advances the connection; returns what happened, in order:
## {"kind": "ready"}, {"kind": "message", "frames": Array},
## {"kind": "closed", "reason": String, "was_ready": bool} (a retry follows after the back-off).
func poll(now_ms: int) -> Array:
	var events := []
	if state == State.WAITING and now_ms >= _deadline_ms:
		_start(now_ms)
	if state == State.CONNECTING or state == State.HANDSHAKING or state == State.READY:
		_peer.poll()
		var status := _peer.get_status()
		if state == State.CONNECTING and status == StreamPeerTCP.STATUS_CONNECTED:
			_peer.set_no_delay(true)
			state = State.HANDSHAKING
			_parser = AdaptiveMusicZmtp.Parser.new(max_frame_bytes)
			_outgoing = AdaptiveMusicZmtp.greeting()
			_outgoing.append_array(AdaptiveMusicZmtp.ready_command(socket_type))
		if status == StreamPeerTCP.STATUS_ERROR or status == StreamPeerTCP.STATUS_NONE:
			_fail(events, now_ms, "connection to %s:%d failed or was closed" % [host, port])
		elif state != State.READY and now_ms >= _deadline_ms:
			_fail(
				events,
				now_ms,
				"no ZeroMQ handshake with %s:%d within %d ms" % [host, port, connect_timeout_ms]
			)
		elif state != State.CONNECTING:
			_flush()
			_receive(events, now_ms)
	return events


func _start(now_ms: int) -> void:
	_peer = StreamPeerTCP.new()
	_deadline_ms = now_ms + connect_timeout_ms
	var error := _peer.connect_to_host(host, port)
	state = State.CONNECTING
	if error != OK:
		last_error = "cannot connect to %s:%d (error %d)" % [host, port, error]


func _receive(events: Array, now_ms: int) -> void:
	var available := _peer.get_available_bytes()
	if available > 0:
		var got: Array = _peer.get_partial_data(available)
		if got[0] != OK:
			_fail(events, now_ms, "read from %s:%d failed (error %d)" % [host, port, got[0]])
			return
		_parser.feed(got[1])
	while state == State.HANDSHAKING or state == State.READY:
		var item := _parser.next()
		if item.is_empty():
			return
		if item["kind"] == "error":
			_fail(events, now_ms, item["error"])
		elif item["kind"] == "command" and item["name"] == "READY" and state == State.HANDSHAKING:
			var peer_type: String = (
				item["properties"].get("Socket-Type", PackedByteArray()).get_string_from_ascii()
			)
			if not PEER_TYPES[socket_type].has(peer_type):
				_fail(
					events,
					now_ms,
					(
						"the peer is a %s socket, a %s needs %s"
						% [peer_type, socket_type, PEER_TYPES[socket_type]]
					)
				)
				return
			state = State.READY
			connections += 1
			_retry_ms = reconnect_min_ms
			last_error = ""
			for topic in _subscriptions:
				_outgoing.append_array(AdaptiveMusicZmtp.subscription(topic))
			_flush()
			events.append({"kind": "ready"})
		elif item["kind"] == "message" and state == State.READY:
			events.append(item)


func _flush() -> void:
	if _outgoing.is_empty() or _peer == null:
		return
	var result: Array = _peer.put_partial_data(_outgoing)
	if result[0] == OK and result[1] > 0:
		_outgoing = _outgoing.slice(result[1])


func _fail(events: Array, now_ms: int, reason: String) -> void:
	var was_ready := state == State.READY
	_drop()
	last_error = reason
	state = State.WAITING
	_deadline_ms = now_ms + _retry_ms
	_retry_ms = mini(_retry_ms * 2, reconnect_max_ms)
	events.append({"kind": "closed", "reason": reason, "was_ready": was_ready})


func _drop() -> void:
	if _peer != null:
		_peer.disconnect_from_host()
	_peer = null
	_outgoing = PackedByteArray()
