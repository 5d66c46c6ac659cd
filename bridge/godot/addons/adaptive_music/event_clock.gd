class_name AdaptiveMusicEventClock
extends RefCounted
## Holds beat, bar and mood events until the engine's playback reaches their `sample` (the
## stream position in engine-output mode), so their signals fire on the sample that is heard.
## The server publishes them in stream order, before the block that contains them.

var _events := []


func add(topic: String, data: Dictionary) -> void:
	_events.append([topic, data])


func size() -> int:
	return _events.size()


func clear() -> void:
	_events.clear()


## The held events whose sample is at or before played_position, oldest first, as [topic, data].
func due(played_position: int) -> Array:
	var out := []
	while not _events.is_empty():
		var sample: Variant = _events[0][1].get("sample")
		if typeof(sample) == TYPE_INT and sample > played_position:
			break
		out.append(_events.pop_front())
	return out
