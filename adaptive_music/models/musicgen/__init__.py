"""MusicGen backend: real MusicGen checkpoints through transformers (text, stereo and
melody families), decoded by our own incremental loop (KV cache, per-condition
cross-attention or condition prefix, weighted-prompt guidance)."""

from .chroma import melody_chroma, read_melody
from .codec import encode_prompt_audio
from .decoder import TextCondition
from .errors import AudioPromptError, MusicgenLoadError
from .model import MusicgenModel
from .sampling import SamplingParams
from .speed import measure_rtf

__all__ = [
    "AudioPromptError",
    "MusicgenLoadError",
    "MusicgenModel",
    "SamplingParams",
    "TextCondition",
    "encode_prompt_audio",
    "measure_rtf",
    "melody_chroma",
    "read_melody",
]
