class_name AdaptiveMusicAudioFeed
extends RefCounted
## Engine output mode (protocol 1.1, `adaptive-music serve --output engine`): pulls the music
## as float32 PCM with audio_open/audio_pull on its own DEALER connection into a local ring of
## stereo frames, and from there into an AudioStreamGeneratorPlayback, kept buffer_frames full.
## The pulls are the flow control: they are sent only while the ring plus the frames already
## asked for is below two pulls, so the engine's mixer is the clock and the server never runs
## ahead of it. The generator counts the times its mixer found it empty (get_skips()).

const CHANNELS := 2
const MAX_PULLS_IN_FLIGHT := 4

var client: AdaptiveMusicClient
var sample_rate: int
var pull_frames: int
## Frames kept in the generator: the engine-side buffer between the network and the mixer.
var buffer_frames: int
## Frames kept in the local ring and asked for.
var target_frames: int
## Stream position (frames at sample_rate) of the next frame take() returns; -1 before audio_open.
var position := -1
## Blocks whose position was not where the previous one ended (the stream skipped; 0 normally).
var gaps := 0
var blocks := 0
var last_error := ""

var _ring := PackedFloat32Array()
var _read := 0
var _end := -1
var _opened := false
var _reported := ""
var _pulls := {}
var _open_id := -1
var _playback: AudioStreamGeneratorPlayback
var _capacity := 0


func _init(command_address: String, rate: int, frames_per_pull: int, generator_frames: int) -> void:
	client = AdaptiveMusicClient.new(command_address)
	sample_rate = rate
	pull_frames = frames_per_pull
	buffer_frames = generator_frames
	target_frames = 2 * frames_per_pull


func open(now_ms: int) -> void:
	client.open(now_ms)


func close() -> void:
	client.close()


func frames_buffered() -> int:
	return (_ring.size() - _read) / CHANNELS


## Network work for one game frame. Returns what the game should hear of:
## {"kind": "error", "code": String, "message": String} when the audio connection fails a
## request or the stream breaks, and the connection's connected/disconnected items.
func poll(now_ms: int) -> Array:
	var passed := []
	for item in client.poll(now_ms):
		if item["kind"] != "reply":
			passed.append(item)
		elif item["id"] == _open_id:
			_on_open(item)
		elif _pulls.has(item["id"]):
			_pulls.erase(item["id"])
			_on_block(item)
		elif item["type"] == "hello" and item["ok"]:
			_opened = false
			var fields := {"sample_rate": sample_rate, "channels": CHANNELS}
			_open_id = client.request("audio_open", fields, now_ms)
		if item["kind"] == "reply" and last_error != "" and _reported != last_error:
			_reported = last_error
			passed.append({"kind": "error", "code": "audio", "message": last_error})
	if _opened and client.is_connected_to_server():
		var asked := 0
		for pending_id in _pulls:
			asked += _pulls[pending_id]
		while frames_buffered() + asked < target_frames and _pulls.size() < MAX_PULLS_IN_FLIGHT:
			var pull_id := client.request("audio_pull", {"frames": pull_frames}, now_ms)
			_pulls[pull_id] = pull_frames
			asked += pull_frames
	return passed


## Feeds playback from now on: an AudioStreamGeneratorPlayback just after play(), so its free
## space is its capacity.
func attach(playback: AudioStreamGeneratorPlayback) -> void:
	_playback = playback
	_capacity = playback.get_frames_available()


## Tops the generator up to buffer_frames from the ring; call every frame. Returns frames pushed.
func fill() -> int:
	var room := mini(_playback.get_frames_available(), buffer_frames - frames_in_generator())
	if room <= 0 or frames_buffered() == 0:
		return 0
	var frames := take(room)
	_playback.push_buffer(frames)
	return frames.size()


## Times the engine's mixer found the generator empty and played silence (a gap heard).
func underruns() -> int:
	return _playback.get_skips() if _playback != null else 0


func frames_in_generator() -> int:
	return _capacity - _playback.get_frames_available()


## The stream position being heard: what was pushed, less what the generator still holds and
## the mixer's output latency.
func played_position(latency_frames: int) -> int:
	return position - frames_in_generator() - latency_frames


## Up to count stereo frames from the ring, oldest first; advances position.
func take(count: int) -> PackedVector2Array:
	var frames := mini(count, frames_buffered())
	var out := PackedVector2Array()
	out.resize(frames)
	for i in range(frames):
		out[i] = Vector2(_ring[_read], _ring[_read + 1])
		_read += CHANNELS
	position += frames
	if _read == _ring.size():
		_ring = PackedFloat32Array()
		_read = 0
	return out


func _on_open(item: Dictionary) -> void:
	_open_id = -1
	if not item["ok"]:
		last_error = item["reply"]["error"]["message"]
		return
	var reply: Dictionary = item["reply"]
	if reply.get("sample_rate") != sample_rate or reply.get("channels") != CHANNELS:
		last_error = (
			"audio_open: the server answered %s Hz x %s"
			% [reply.get("sample_rate"), reply.get("channels")]
		)
		return
	last_error = ""
	_reported = ""
	var start: int = reply["position"]
	if _end >= 0 and start != _end:
		# The stream went on without us (a server restart): what is left here no longer fits.
		gaps += 1
		last_error = "audio_open: the stream continues at %d, expected %d" % [start, _end]
		_ring = PackedFloat32Array()
		_read = 0
		position = start
	elif position < 0:
		position = start
	_end = start
	_opened = true


func _on_block(item: Dictionary) -> void:
	if not item["ok"]:
		last_error = item["reply"]["error"]["message"]
		return
	var reply: Dictionary = item["reply"]
	var pcm: PackedByteArray = reply.get("pcm", PackedByteArray())
	var frames: int = reply.get("frames", 0)
	if pcm.size() != frames * CHANNELS * 4 or reply.get("channels") != CHANNELS:
		last_error = "audio_pull: a block of %d bytes for %d frames" % [pcm.size(), frames]
		return
	if reply["position"] != _end:
		gaps += 1
		last_error = "audio_pull: block at %d, expected %d" % [reply["position"], _end]
	if _read > 0:
		_ring = _ring.slice(_read)
		_read = 0
	_ring.append_array(pcm.to_float32_array())
	_end = reply["position"] + frames
	blocks += 1
