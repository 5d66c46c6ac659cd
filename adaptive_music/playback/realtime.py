"""Real-time scheduling for audio threads."""

from __future__ import annotations

import os

# Priority asked for: low, like the sound server's own (PulseAudio's default is 5).
REALTIME_PRIORITY = 5


def ask_for_realtime(priority: int = REALTIME_PRIORITY) -> None:
    """Move the calling thread (an audio thread) to real-time FIFO scheduling, as audio
    applications do, so that busy threads of ordinary priority cannot delay a buffer; without
    the privilege (CAP_SYS_NICE or an rtprio limit) it keeps its priority, silently."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass
