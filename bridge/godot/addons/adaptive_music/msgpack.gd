class_name AdaptiveMusicMsgpack
extends RefCounted
## The msgpack subset of the bridge protocol (bridge/PROTOCOL.md §1): nil, bool, int, float,
## str, bin, array and map. Floats are written as float64, ints in the smallest size class;
## every size class is read. GDScript ints are signed 64-bit, so a uint64 above 2^63 - 1 is a
## decode error rather than a wrong number.

const MAX_DEPTH := 32


## {"ok": true, "bytes": PackedByteArray} or {"ok": false, "error": String}.
static func encode(value: Variant) -> Dictionary:
	var out := PackedByteArray()
	var error := _write(out, value, 0)
	if error != "":
		return {"ok": false, "error": error}
	return {"ok": true, "bytes": out}


## Decodes one value that fills all of bytes:
## {"ok": true, "value": Variant} or {"ok": false, "error": String}.
static func decode(bytes: PackedByteArray) -> Dictionary:
	var reader := Reader.new(bytes)
	var value: Variant = reader.read_value(0)
	if reader.error == "" and reader.offset != bytes.size():
		reader.error = "msgpack: %d bytes after the value" % (bytes.size() - reader.offset)
	if reader.error != "":
		return {"ok": false, "error": reader.error}
	return {"ok": true, "value": value}


static func _write(out: PackedByteArray, value: Variant, depth: int) -> String:
	if depth > MAX_DEPTH:
		return "msgpack: nested deeper than %d levels" % MAX_DEPTH
	var kind := typeof(value)
	if kind == TYPE_NIL:
		out.append(0xc0)
	elif kind == TYPE_BOOL:
		out.append(0xc3 if value else 0xc2)
	elif kind == TYPE_INT:
		_write_int(out, value)
	elif kind == TYPE_FLOAT:
		var little := PackedByteArray()
		little.resize(8)
		little.encode_double(0, value)
		out.append(0xcb)
		_append_reversed(out, little)
	elif kind == TYPE_STRING or kind == TYPE_STRING_NAME:
		var utf8 := str(value).to_utf8_buffer()
		_write_header(out, utf8.size(), 0xa0, 32, [0xd9, 0xda, 0xdb])
		out.append_array(utf8)
	elif kind == TYPE_PACKED_BYTE_ARRAY:
		var raw: PackedByteArray = value
		_write_header(out, raw.size(), 0, 0, [0xc4, 0xc5, 0xc6])
		out.append_array(raw)
	elif kind == TYPE_ARRAY:
		var items: Array = value
		_write_header(out, items.size(), 0x90, 16, [-1, 0xdc, 0xdd])
		for item in items:
			var error := _write(out, item, depth + 1)
			if error != "":
				return error
	elif kind == TYPE_DICTIONARY:
		var entries: Dictionary = value
		_write_header(out, entries.size(), 0x80, 16, [-1, 0xde, 0xdf])
		for key in entries:
			var error := _write(out, key, depth + 1)
			if error == "":
				error = _write(out, entries[key], depth + 1)
			if error != "":
				return error
	else:
		return "msgpack: cannot encode a %s" % type_string(kind)
	return ""


## A type and length header: fix_base | size below fix_limit, else the 8-, 16- or 32-bit form
## with codes[0..2] (codes[0] -1: the type has no 8-bit form).
static func _write_header(
	out: PackedByteArray, size: int, fix_base: int, fix_limit: int, codes: Array
) -> void:
	if size < fix_limit:
		out.append(fix_base | size)
	elif size < 0x100 and codes[0] != -1:
		out.append(codes[0])
		out.append(size)
	elif size < 0x10000:
		out.append(codes[1])
		_append_big_endian(out, size, 2)
	else:
		out.append(codes[2])
		_append_big_endian(out, size, 4)


static func _write_int(out: PackedByteArray, n: int) -> void:
	if n >= 0:
		if n < 0x80:
			out.append(n)
		elif n < 0x100:
			out.append(0xcc)
			out.append(n)
		elif n < 0x10000:
			out.append(0xcd)
			_append_big_endian(out, n, 2)
		elif n < 0x100000000:
			out.append(0xce)
			_append_big_endian(out, n, 4)
		else:
			out.append(0xcf)
			_append_big_endian(out, n, 8)
	elif n >= -32:
		out.append(n & 0xff)
	elif n >= -0x80:
		out.append(0xd0)
		out.append(n & 0xff)
	elif n >= -0x8000:
		out.append(0xd1)
		_append_big_endian(out, n, 2)
	elif n >= -0x80000000:
		out.append(0xd2)
		_append_big_endian(out, n, 4)
	else:
		out.append(0xd3)
		_append_big_endian(out, n, 8)


static func _append_big_endian(out: PackedByteArray, n: int, size: int) -> void:
	var shift := (size - 1) * 8
	while shift >= 0:
		out.append((n >> shift) & 0xff)
		shift -= 8


## PackedByteArray's encode_*/decode_* are little-endian; msgpack is big-endian.
static func _append_reversed(out: PackedByteArray, little: PackedByteArray) -> void:
	var i := little.size() - 1
	while i >= 0:
		out.append(little[i])
		i -= 1


## Reads values from a byte array, recording the first problem in error.
class Reader:
	var bytes: PackedByteArray
	var offset := 0
	var error := ""

	func _init(source: PackedByteArray) -> void:
		bytes = source

	func read_value(depth: int) -> Variant:
		if depth > MAX_DEPTH:
			return _fail("msgpack: nested deeper than %d levels" % MAX_DEPTH)
		if not _has(1):
			return null
		var code := bytes[offset]
		offset += 1
		var value: Variant = null
		if code <= 0x7f:
			value = code
		elif code >= 0xe0:
			value = code - 0x100
		elif code >= 0xa0 and code <= 0xbf:
			value = _read_string(code & 0x1f)
		elif code >= 0x90 and code <= 0x9f:
			value = _read_array(code & 0x0f, depth)
		elif code >= 0x80 and code <= 0x8f:
			value = _read_map(code & 0x0f, depth)
		elif code == 0xc2 or code == 0xc3:
			value = code == 0xc3
		elif code >= 0xcc and code <= 0xcf:
			value = _read_unsigned(1 << (code - 0xcc))
		elif code >= 0xd0 and code <= 0xd3:
			value = _read_signed(1 << (code - 0xd0))
		elif code == 0xca or code == 0xcb:
			value = _read_float(4 if code == 0xca else 8)
		elif code >= 0xd9 and code <= 0xdb:
			value = _read_string(_read_big_endian(1 << (code - 0xd9)))
		elif code >= 0xc4 and code <= 0xc6:
			value = _read_bytes(_read_big_endian(1 << (code - 0xc4)))
		elif code == 0xdc or code == 0xdd:
			value = _read_array(_read_big_endian(2 if code == 0xdc else 4), depth)
		elif code == 0xde or code == 0xdf:
			value = _read_map(_read_big_endian(2 if code == 0xde else 4), depth)
		elif code != 0xc0:
			_fail("msgpack: type code 0x%02x is not used by the protocol" % code)
		return value

	func _fail(message: String) -> Variant:
		if error == "":
			error = message
		return null

	func _has(count: int) -> bool:
		if error != "":
			return false
		if count > bytes.size() - offset:
			_fail("msgpack: truncated at byte %d (%d more needed)" % [offset, count])
			return false
		return true

	## An unsigned big-endian number of size bytes (size 8 wraps into GDScript's signed int).
	func _read_big_endian(size: int) -> int:
		if not _has(size):
			return 0
		var n := 0
		for i in range(size):
			n = (n << 8) | bytes[offset + i]
		offset += size
		return n

	func _read_unsigned(size: int) -> Variant:
		var n := _read_big_endian(size)
		if n < 0:
			return _fail("msgpack: uint64 above 2^63 - 1 does not fit a GDScript int")
		return n

	func _read_signed(size: int) -> int:
		var n := _read_big_endian(size)
		if size < 8 and n >= 1 << (size * 8 - 1):
			n -= 1 << (size * 8)
		return n

	func _read_float(size: int) -> float:
		if not _has(size):
			return 0.0
		var little := PackedByteArray()
		little.resize(size)
		for i in range(size):
			little[i] = bytes[offset + size - 1 - i]
		offset += size
		return little.decode_float(0) if size == 4 else little.decode_double(0)

	func _read_bytes(size: int) -> PackedByteArray:
		if not _has(size):
			return PackedByteArray()
		var out := bytes.slice(offset, offset + size)
		offset += size
		return out

	func _read_string(size: int) -> String:
		return _read_bytes(size).get_string_from_utf8()

	## Each element takes at least one byte: a count larger than what is left is refused before
	## anything is allocated for it.
	func _read_array(count: int, depth: int) -> Array:
		var items := []
		if not _has(count):
			return items
		for i in range(count):
			items.append(read_value(depth + 1))
			if error != "":
				break
		return items

	func _read_map(count: int, depth: int) -> Dictionary:
		var entries := {}
		if not _has(count * 2):
			return entries
		for i in range(count):
			var key: Variant = read_value(depth + 1)
			var value: Variant = read_value(depth + 1)
			if error != "":
				break
			entries[key] = value
		return entries
