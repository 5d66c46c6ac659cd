class_name AdaptiveMusicZmtp
extends RefCounted
## ZMTP 3.0 with the NULL mechanism (RFC 23/37): the bytes a DEALER or SUB client sends, and
## Parser, which turns the bytes a libzmq ROUTER or PUB sends back into greeting, commands and
## messages. Greeting with minor version 0 makes libzmq speak 3.0 to us: subscriptions are
## messages (01 + topic) and there are no heartbeats.

const FLAG_MORE := 1
const FLAG_LONG := 2
const FLAG_COMMAND := 4
const GREETING_SIZE := 64


## The 64-byte greeting: signature FF, 8 padding bytes, 7F; version 3.0; "NULL"; as-server 0.
static func greeting() -> PackedByteArray:
	var out := PackedByteArray()
	out.resize(GREETING_SIZE)
	out[0] = 0xff
	out[9] = 0x7f
	out[10] = 3
	var mechanism := "NULL".to_ascii_buffer()
	for i in range(mechanism.size()):
		out[12 + i] = mechanism[i]
	return out


## One frame: flags, a 1-byte size (or 8 bytes big-endian past 255), the body.
static func frame(body: PackedByteArray, more: bool, command: bool = false) -> PackedByteArray:
	var flags := (FLAG_MORE if more else 0) | (FLAG_COMMAND if command else 0)
	var out := PackedByteArray()
	if body.size() > 255:
		out.append(flags | FLAG_LONG)
		var shift := 56
		while shift >= 0:
			out.append((body.size() >> shift) & 0xff)
			shift -= 8
	else:
		out.append(flags)
		out.append(body.size())
	out.append_array(body)
	return out


## A multipart message: every frame but the last carries MORE.
static func message(frames: Array) -> PackedByteArray:
	var out := PackedByteArray()
	for i in range(frames.size()):
		out.append_array(frame(frames[i], i < frames.size() - 1))
	return out


## The READY command with Socket-Type and, when identity is not empty, Identity.
static func ready_command(socket_type: String, identity := PackedByteArray()) -> PackedByteArray:
	var body := PackedByteArray()
	body.append(5)
	body.append_array("READY".to_ascii_buffer())
	_append_property(body, "Socket-Type", socket_type.to_ascii_buffer())
	if not identity.is_empty():
		_append_property(body, "Identity", identity)
	return frame(body, false, true)


## A ZMTP 3.0 subscription message: 01 (subscribe) or 00 (cancel), then the topic prefix.
static func subscription(topic: String, subscribe := true) -> PackedByteArray:
	var body := PackedByteArray()
	body.append(1 if subscribe else 0)
	body.append_array(topic.to_utf8_buffer())
	return frame(body, false)


static func _append_property(body: PackedByteArray, name: String, value: PackedByteArray) -> void:
	body.append(name.length())
	body.append_array(name.to_ascii_buffer())
	var shift := 24
	while shift >= 0:
		body.append((value.size() >> shift) & 0xff)
		shift -= 8
	body.append_array(value)


## Reads what a peer sends, fed in chunks of any size. next() returns, in order:
## {"kind": "greeting", "major": int, "minor": int, "mechanism": String},
## {"kind": "command", "name": String, "properties": Dictionary (READY) , "body": PackedByteArray},
## {"kind": "message", "frames": Array of PackedByteArray},
## {"kind": "error", "error": String} (then the connection must be dropped),
## or {} when it needs more bytes.
class Parser:
	var max_frame_bytes: int
	var _buffer := PackedByteArray()
	var _offset := 0
	var _greeted := false
	var _frames := []
	var _failed := false

	func _init(max_frame: int = 16 * 1024 * 1024) -> void:
		max_frame_bytes = max_frame

	func feed(data: PackedByteArray) -> void:
		if _offset > 0 and _offset == _buffer.size():
			_buffer = PackedByteArray()
			_offset = 0
		elif _offset > 65536:
			_buffer = _buffer.slice(_offset)
			_offset = 0
		_buffer.append_array(data)

	func next() -> Dictionary:
		if _failed:
			return {}
		if not _greeted:
			return _read_greeting()
		while true:
			var read := _read_frame()
			if not read.has("flags"):
				return read  # {} (more bytes needed) or an error
			if read["flags"] & FLAG_COMMAND:
				return _command(read["body"])
			_frames.append(read["body"])
			if (read["flags"] & FLAG_MORE) == 0:
				var frames := _frames
				_frames = []
				return {"kind": "message", "frames": frames}
		return {}

	func _read_frame() -> Dictionary:
		var available := _buffer.size() - _offset
		if available < 2:
			return {}
		var flags := _buffer[_offset]
		if flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0:
			return _fail("zmtp: reserved frame flag bits set (0x%02x)" % flags)
		var header := 2
		var size := _buffer[_offset + 1]
		if flags & FLAG_LONG:
			header = 9
			if available < header:
				return {}
			size = 0
			for i in range(8):
				size = (size << 8) | _buffer[_offset + 1 + i]
		if size < 0 or size > max_frame_bytes:
			return _fail(
				"zmtp: a %d-byte frame is over the %d-byte limit" % [size, max_frame_bytes]
			)
		if available < header + size:
			return {}
		var body := _buffer.slice(_offset + header, _offset + header + size)
		_offset += header + size
		return {"flags": flags, "body": body}

	func _fail(message: String) -> Dictionary:
		_failed = true
		return {"kind": "error", "error": message}

	func _read_greeting() -> Dictionary:
		if _buffer.size() - _offset < GREETING_SIZE:
			return {}
		var g := _buffer.slice(_offset, _offset + GREETING_SIZE)
		_offset += GREETING_SIZE
		if g[0] != 0xff or g[9] != 0x7f:
			return _fail("zmtp: the peer is not a ZeroMQ 3.x socket (bad signature)")
		if g[10] < 3:
			return _fail("zmtp: the peer speaks ZMTP %d, 3 or later is needed" % g[10])
		var mechanism := g.slice(12, 32).get_string_from_ascii()
		if mechanism != "NULL":
			return _fail(
				(
					"zmtp: the peer wants the %s mechanism (CURVE keys are not supported by this addon)"
					% mechanism
				)
			)
		_greeted = true
		return {"kind": "greeting", "major": g[10], "minor": g[11], "mechanism": mechanism}

	func _command(body: PackedByteArray) -> Dictionary:
		if body.is_empty() or body[0] + 1 > body.size():
			return _fail("zmtp: malformed command")
		var name := body.slice(1, 1 + body[0]).get_string_from_ascii()
		var data := body.slice(1 + body[0])
		var properties := {}
		if name == "READY":
			var at := 0
			while at < data.size():
				var name_size := data[at]
				if at + 1 + name_size + 4 > data.size():
					return _fail("zmtp: malformed READY property")
				var key := data.slice(at + 1, at + 1 + name_size).get_string_from_ascii()
				at += 1 + name_size
				var value_size := 0
				for i in range(4):
					value_size = (value_size << 8) | data[at + i]
				at += 4
				if at + value_size > data.size():
					return _fail("zmtp: malformed READY property %s" % key)
				properties[key] = data.slice(at, at + value_size)
				at += value_size
		elif name == "ERROR":
			return _fail(
				"zmtp: the peer refused the connection: %s" % data.slice(1).get_string_from_utf8()
			)
		return {"kind": "command", "name": name, "properties": properties, "body": data}
