"""What the bridge server needs from a live soundtrack."""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable


@runtime_checkable
class LiveSoundtrack(Protocol):
    """The controls of a playing soundtrack (``adaptive_music.playback.Soundtrack``).

    The server calls these from its own thread. ``on_beat``/``on_bar``/``on_transition``
    callbacks may run on any thread and must return quickly. A soundtrack whose
    ``engine`` attribute is an :class:`~adaptive_music.playback.engine_output.EngineOutput`
    is pulled through ``audio_open``/``audio_pull``.
    """

    def set_mood(self, text: str, transition: str = "now", ramp: float | None = None) -> Any: ...

    def set_intensity(self, x: float) -> Any: ...

    def stinger(self, name_or_text: str) -> Any: ...

    def pause(self) -> Any: ...

    def resume(self) -> Any: ...

    def status(self) -> dict: ...

    def on_beat(self, cb: Callable[..., Any]) -> Any: ...

    def on_bar(self, cb: Callable[..., Any]) -> Any: ...

    def on_transition(self, cb: Callable[..., Any]) -> Any: ...


def describe(soundtrack: Any) -> dict:
    """The output format, backend, output mode and look-ahead of ``soundtrack``, for ``hello``.

    Read from ``sample_rate``, ``channels``, ``backend``, ``output`` and ``ahead``
    attributes where the soundtrack has them, else from its ``config`` (a
    StreamConfig), ``model``, ``output_mode`` and ``ahead``, as
    :class:`~adaptive_music.playback.soundtrack.Soundtrack` has.
    """
    config = getattr(soundtrack, "config", None)
    fallback = {
        "sample_rate": getattr(config, "output_sample_rate", None),
        "channels": getattr(config, "channels", None),
        "backend": getattr(getattr(soundtrack, "model", None), "name", None),
        "output": getattr(soundtrack, "output_mode", "device"),
        "ahead": getattr(soundtrack, "ahead", None),
    }
    return {name: getattr(soundtrack, name, value) for name, value in fallback.items()}
