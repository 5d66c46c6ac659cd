class_name AdaptiveMusicClient
extends RefCounted
## The bridge protocol v1 (bridge/PROTOCOL.md): requests on a DEALER connection, matched to
## replies by id, each with a timeout; events from a SUB connection. Driven by poll(now_ms) from
## the game loop, so nothing ever blocks; a request made while disconnected fails at the next
## poll with code "not_connected", and both connections reconnect by themselves.

const PROTOCOL_VERSION := 1
const TOPICS := ["beat", "bar", "mood", "status", "error"]

var commands: AdaptiveMusicConnection
## null for a commands-only client (the audio feed's).
var events: AdaptiveMusicConnection
var timeout_ms := 2000
## The server's last hello reply ({} before the first).
var server := {}

var _next_id := 1
var _pending := {}
var _failed := []


func _init(command_address: String, event_address := "") -> void:
	commands = AdaptiveMusicConnection.new("DEALER", command_address)
	if event_address != "":
		events = AdaptiveMusicConnection.new("SUB", event_address)
		for topic in TOPICS:
			events.subscribe(topic)


func open(now_ms: int) -> void:
	commands.open(now_ms)
	if events != null:
		events.open(now_ms)


func close() -> void:
	commands.close()
	if events != null:
		events.close()
	_pending.clear()


func is_connected_to_server() -> bool:
	return commands.is_ready() and not server.is_empty()


## Sends {"v": 1, "id": id, "type": type, ...fields}; returns id. Its reply comes out of poll()
## as {"kind": "reply", "id": id, ...}, exactly once: the server's, or a timeout/not_connected one.
func request(type: String, fields: Dictionary, now_ms: int) -> int:
	var id := _next_id
	_next_id += 1
	var message := {"v": PROTOCOL_VERSION, "id": id, "type": type}
	message.merge(fields)
	var encoded := AdaptiveMusicMsgpack.encode(message)
	if not encoded["ok"]:
		_failed.append(_failure(id, type, "bad_request", encoded["error"]))
	elif not commands.send([encoded["bytes"]]):
		var why := commands.last_error if commands.last_error != "" else "connecting"
		var text := "%s: not connected to %s:%d (%s)" % [type, commands.host, commands.port, why]
		_failed.append(_failure(id, type, "not_connected", text))
	else:
		_pending[id] = {"type": type, "deadline": now_ms + timeout_ms}
	return id


func pending_count() -> int:
	return _pending.size()


## Everything that happened since the last poll, in order:
## {"kind": "reply", "id": int, "type": String, "ok": bool, "reply": Dictionary}
##   (a failed one has reply.error = {"code", "message"}; codes beyond the server's: timeout,
##   not_connected, disconnected),
## {"kind": "event", "topic": String, "data": Dictionary},
## {"kind": "connected", "socket": "commands"|"events", "reconnect": bool},
## {"kind": "disconnected", "socket": String, "reason": String},
## {"kind": "error", "code": String, "message": String}.
func poll(now_ms: int) -> Array:
	var out := _failed
	_failed = []
	for item in commands.poll(now_ms):
		_on_commands(item, now_ms, out)
	if events != null:
		for item in events.poll(now_ms):
			_on_events(item, out)
	for id in _pending.keys():
		if now_ms >= _pending[id]["deadline"]:
			var type: String = _pending[id]["type"]
			_pending.erase(id)
			var text := "%s: no reply within %d ms" % [type, timeout_ms]
			out.append(_failure(id, type, "timeout", text))
	return out


func _on_commands(item: Dictionary, now_ms: int, out: Array) -> void:
	if item["kind"] == "ready":
		server = {}
		out.append(
			{"kind": "connected", "socket": "commands", "reconnect": commands.connections > 1}
		)
		request("hello", {}, now_ms)
	elif item["kind"] == "closed":
		if item["was_ready"]:
			server = {}
			out.append({"kind": "disconnected", "socket": "commands", "reason": item["reason"]})
			for id in _pending.keys():
				var type: String = _pending[id]["type"]
				out.append(_failure(id, type, "disconnected", "%s: %s" % [type, item["reason"]]))
			_pending.clear()
	elif item["kind"] == "message":
		_on_reply(item["frames"], out)


func _on_reply(frames: Array, out: Array) -> void:
	var decoded := AdaptiveMusicMsgpack.decode(frames[0])
	if not decoded["ok"] or typeof(decoded["value"]) != TYPE_DICTIONARY or frames.size() != 1:
		out.append(
			{"kind": "error", "code": "bad_reply", "message": "unreadable reply from the server"}
		)
		return
	var reply: Dictionary = decoded["value"]
	var id: Variant = reply.get("id")
	if typeof(id) != TYPE_INT or not _pending.has(id):
		if id == null and not reply.get("ok", false):
			var error: Dictionary = reply.get("error", {})
			out.append(
				{
					"kind": "error",
					"code": error.get("code", ""),
					"message": error.get("message", "")
				}
			)
		return  # a late reply to a request that timed out (PROTOCOL.md §2)
	var type: String = _pending[id]["type"]
	_pending.erase(id)
	if type == "hello" and reply.get("ok", false):
		_on_hello(reply, out)
	out.append(
		{
			"kind": "reply",
			"id": id,
			"type": type,
			"ok": reply.get("ok", false) == true,
			"reply": reply
		}
	)


func _on_hello(reply: Dictionary, out: Array) -> void:
	if reply.get("protocol") != PROTOCOL_VERSION:
		var message := (
			"the server speaks protocol %s, this addon speaks %d"
			% [str(reply.get("protocol")), PROTOCOL_VERSION]
		)
		out.append({"kind": "error", "code": "bad_version", "message": message})
		return
	server = reply


func _on_events(item: Dictionary, out: Array) -> void:
	if item["kind"] == "ready":
		out.append({"kind": "connected", "socket": "events", "reconnect": events.connections > 1})
	elif item["kind"] == "closed" and item["was_ready"]:
		out.append({"kind": "disconnected", "socket": "events", "reason": item["reason"]})
	elif item["kind"] == "message" and item["frames"].size() == 2:
		var topic: String = item["frames"][0].get_string_from_utf8()
		if not TOPICS.has(topic):
			return  # SUB filters by prefix; unknown topics are ignored (PROTOCOL.md §4)
		var decoded := AdaptiveMusicMsgpack.decode(item["frames"][1])
		if decoded["ok"] and typeof(decoded["value"]) == TYPE_DICTIONARY:
			out.append({"kind": "event", "topic": topic, "data": decoded["value"]})
		else:
			out.append(
				{"kind": "error", "code": "bad_event", "message": "unreadable %s event" % topic}
			)


static func _failure(id: int, type: String, code: String, message: String) -> Dictionary:
	var reply := {
		"v": PROTOCOL_VERSION, "id": id, "ok": false, "error": {"code": code, "message": message}
	}
	return {"kind": "reply", "id": id, "type": type, "ok": false, "reply": reply}
