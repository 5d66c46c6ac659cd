class_name AdaptiveMusic
extends Node
## Adaptive music from an `adaptive-music serve` process (bridge/PROTOCOL.md): commands,
## beat/bar/mood signals, and with play_through_engine the music itself, pulled from a server
## started with `--output engine` and played by an AudioStreamGenerator on one of your buses.
## Everything runs from _process without blocking; the logic lives in the AdaptiveMusic*
## classes beside this file, which CI runs (this node is only parsed there).

## A beat is heard (engine output) or published (device output). data: the event's fields.
signal beat(bar_index: int, beat_index: int, data: Dictionary)
signal bar(bar_index: int, data: Dictionary)
## phase "start" when a change starts being heard, "end" when its ramp is over.
signal mood_changed(phase: String, text: String, intensity: float, data: Dictionary)
signal status_received(status: Dictionary)
signal error(code: String, message: String)
## The reply to the request whose id a command method returned (ok false: reply.error).
signal reply_received(id: int, type: String, ok: bool, reply: Dictionary)
signal connection_changed(connected: bool, reason: String)

@export var command_address := "tcp://127.0.0.1:5555"
@export var event_address := "tcp://127.0.0.1:5556"
@export_range(50, 60000) var request_timeout_ms := 2000
@export_range(50, 60000) var connect_timeout_ms := 2000
@export_range(100, 60000) var reconnect_max_ms := 5000
@export var autostart := true
@export_group("Engine output")
## Pull the music and play it here (the server must run `serve --output engine`).
@export var play_through_engine := false
@export var bus := &"Master"
## Music kept in the generator: more survives longer frame hitches, less reacts sooner.
@export_range(0.05, 2.0) var buffer_seconds := 0.1
@export_range(256, 8192) var pull_frames := 1024

var client: AdaptiveMusicClient
var feed: AdaptiveMusicAudioFeed

var _player: AudioStreamPlayer
var _playback: AudioStreamGeneratorPlayback
var _clock := AdaptiveMusicEventClock.new()


func _ready() -> void:
	if autostart:
		start()


func _exit_tree() -> void:
	stop()


## Connects (and reconnects in the background); with play_through_engine, starts the music.
func start() -> void:
	stop()
	var now := Time.get_ticks_msec()
	client = AdaptiveMusicClient.new(command_address, event_address)
	client.timeout_ms = request_timeout_ms
	_configure(client.commands)
	_configure(client.events)
	client.open(now)
	if play_through_engine:
		_start_audio(now)


## Closes the connections at once (never waits on the network) and stops the music.
func stop() -> void:
	if client != null:
		client.close()
	client = null
	if feed != null:
		feed.close()
	feed = null
	if _player != null:
		_player.queue_free()
	_player = null
	_playback = null
	_clock.clear()


func set_mood(text: String, quantize := "now", ramp := -1.0) -> int:
	var transition := {"quantize": quantize}
	if ramp >= 0.0:
		transition["ramp"] = ramp
	return _request("set_mood", {"text": text, "transition": transition})


func send_event(event_name: String, params := {}) -> int:
	return _request("event", {"name": event_name, "params": params})


func set_intensity(value: float) -> int:
	return _request("set_param", {"name": "intensity", "value": value})


func stinger(stinger_name: String) -> int:
	return _request("stinger", {"name": stinger_name})


func pause() -> int:
	return _request("pause", {})


func resume() -> int:
	return _request("resume", {})


## Asks the server for its status; it arrives by status_received (and reply_received).
func status() -> int:
	return _request("status", {})


## This client's side: connection, audio underruns heard (generator skips), stream gaps.
func client_status() -> Dictionary:
	var out := {
		"connected": client != null and client.is_connected_to_server(),
		"server": client.server if client != null else {},
		"last_error": client.commands.last_error if client != null else "",
	}
	if feed != null:
		out["underruns"] = feed.underruns()
		out["gaps"] = feed.gaps
		out["position"] = feed.position
		out["buffered_frames"] = feed.frames_buffered()
		out["audio_error"] = feed.last_error
	return out


func _process(_delta: float) -> void:
	if client == null:
		return
	var now := Time.get_ticks_msec()
	for item in client.poll(now):
		_dispatch(item)
	if feed == null:
		return
	for item in feed.poll(now):
		if item["kind"] == "error":
			error.emit(item["code"], item["message"])
	feed.fill()
	var latency := int(AudioServer.get_output_latency() * feed.sample_rate)
	for pair in _clock.due(feed.played_position(latency)):
		_emit_music_event(pair[0], pair[1])


func _start_audio(now: int) -> void:
	var rate := int(AudioServer.get_mix_rate())
	var generator := AudioStreamGenerator.new()
	generator.mix_rate = rate
	generator.buffer_length = buffer_seconds * 2.0  # room to spare; the feed keeps buffer_seconds
	_player = AudioStreamPlayer.new()
	_player.stream = generator
	_player.bus = bus
	add_child(_player)
	_player.play()
	_playback = _player.get_stream_playback()
	feed = AdaptiveMusicAudioFeed.new(
		command_address, rate, pull_frames, int(buffer_seconds * rate)
	)
	feed.attach(_playback)
	feed.client.timeout_ms = request_timeout_ms
	_configure(feed.client.commands)
	feed.open(now)


func _configure(connection: AdaptiveMusicConnection) -> void:
	connection.connect_timeout_ms = connect_timeout_ms
	connection.reconnect_max_ms = reconnect_max_ms


func _request(type: String, fields: Dictionary) -> int:
	if client == null:
		push_error("AdaptiveMusic.%s: call start() first" % type)
		return -1
	return client.request(type, fields, Time.get_ticks_msec())


func _dispatch(item: Dictionary) -> void:
	var kind: String = item["kind"]
	if kind == "reply":
		reply_received.emit(item["id"], item["type"], item["ok"], item["reply"])
		if item["type"] == "status" and item["ok"]:
			status_received.emit(item["reply"])
		elif not item["ok"]:
			var failure: Dictionary = item["reply"]["error"]
			error.emit(failure["code"], failure["message"])
	elif kind == "event":
		_on_event(item["topic"], item["data"])
	elif kind == "connected" and item["socket"] == "commands":
		connection_changed.emit(true, "")
	elif kind == "disconnected" and item["socket"] == "commands":
		connection_changed.emit(false, item["reason"])
	elif kind == "error":
		error.emit(item["code"], item["message"])


func _on_event(topic: String, data: Dictionary) -> void:
	if topic == "status":
		status_received.emit(data)
	elif topic == "error":
		error.emit(str(data.get("code", "")), str(data.get("message", "")))
	elif feed != null and feed.position >= 0 and data.has("sample"):
		_clock.add(topic, data)  # fired when playback reaches data.sample
	else:
		_emit_music_event(topic, data)


func _emit_music_event(topic: String, data: Dictionary) -> void:
	if topic == "beat":
		beat.emit(int(data.get("bar", 0)), int(data.get("beat", 0)), data)
	elif topic == "bar":
		bar.emit(int(data.get("bar", 0)), data)
	elif topic == "mood":
		var intensity := float(data.get("intensity", 0.0))
		mood_changed.emit(str(data.get("phase", "")), str(data.get("text", "")), intensity, data)
