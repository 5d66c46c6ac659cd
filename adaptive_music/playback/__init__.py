"""Real-time playback: a gapless ring buffer feeding a sound device or a clocked file.

:class:`Soundtrack` is the live API; the rest are its parts.
"""

from .beats import Beat, MoodTransition
from .device import ClockedFileSink, DeviceNotFoundError, DeviceOutput, NoAudioDeviceError, output_devices
from .engine_output import EngineOutput
from .feed import Control, render_controls
from .soundtrack import Soundtrack

__all__ = [
    "Beat",
    "ClockedFileSink",
    "Control",
    "DeviceNotFoundError",
    "DeviceOutput",
    "EngineOutput",
    "MoodTransition",
    "NoAudioDeviceError",
    "Soundtrack",
    "output_devices",
    "render_controls",
]
