"""Finding, checking and loading a MusicGen checkpoint (hub id or local folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .errors import MusicgenLoadError

_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
            "pytorch_model.bin.index.json")
_TOKENIZER = ("tokenizer.json", "spiece.model")
_CLASSES = {"musicgen": "MusicgenForConditionalGeneration", "musicgen_melody": "MusicgenMelodyForConditionalGeneration"}
"""transformers' class for each MusicGen model_type."""


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else cuda, then mps, then cpu."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: torch.dtype | str | None = None) -> torch.dtype:
    """``dtype`` if given, else half precision on a GPU (bf16 where supported) and fp32 on cpu."""
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if dtype is not None:
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def download_hint(model: str) -> str:
    return (
        f"download it with:  hf download {model}   (or: python -c \"from huggingface_hub "
        f"import snapshot_download; snapshot_download('{model}')\")"
    )


def check_folder(folder: Path) -> None:
    """Raise MusicgenLoadError naming the first missing file of a save_pretrained folder,
    or the model type when the folder holds something other than MusicGen."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise MusicgenLoadError(f"checkpoint folder {folder} is incomplete: config.json is missing")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise MusicgenLoadError(f"checkpoint folder {folder}: config.json is unreadable ({exc})") from None
    model_type = config.get("model_type")
    if model_type not in _CLASSES:
        raise MusicgenLoadError(
            f"{folder} holds a {model_type!r} checkpoint, not MusicGen (model_type 'musicgen' or 'musicgen_melody')"
        )
    present = [name for name in _WEIGHTS if (folder / name).is_file()]
    if not present:
        raise MusicgenLoadError(f"checkpoint folder {folder} is incomplete: model.safetensors is missing")
    if present[0].endswith(".index.json"):
        index = json.loads((folder / present[0]).read_text())
        for shard in sorted(set(index.get("weight_map", {}).values())):
            if not (folder / shard).is_file():
                raise MusicgenLoadError(f"checkpoint folder {folder} is incomplete: {shard} is missing")
    if not any((folder / name).is_file() for name in _TOKENIZER):
        raise MusicgenLoadError(
            f"checkpoint folder {folder} is incomplete: tokenizer.json (or spiece.model) is missing"
        )


def load_checkpoint(model: str, device: torch.device, dtype: torch.dtype):
    """Load (MusicgenForConditionalGeneration, tokenizer) from a hub id or a local folder.

    The text and audio encoders stay in float32 (T5 overflows in fp16; EnCodec is cheap);
    only the token decoder runs in ``dtype``.
    """
    import transformers
    from transformers import AutoConfig, AutoTokenizer

    folder = Path(model).expanduser()
    if folder.is_dir():
        check_folder(folder)
        source = str(folder)
        model_type = json.loads((folder / "config.json").read_text())["model_type"]
    elif model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model:
        raise MusicgenLoadError(f"model folder {model} does not exist")
    else:
        source = model
        try:
            config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as exc:
            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            why = "HF_HUB_OFFLINE is set and it is not in the local cache" if offline else str(exc).splitlines()[0]
            raise MusicgenLoadError(
                f"MusicGen weights {model!r} are not available ({why}) and no local folder has that name; "
                f"{download_hint(model)}"
            ) from None
        model_type = config.model_type
        if model_type not in _CLASSES:
            raise MusicgenLoadError(f"{model} is a {model_type!r} checkpoint, not MusicGen")
    try:
        hf = getattr(transformers, _CLASSES[model_type]).from_pretrained(source, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as exc:
        raise MusicgenLoadError(
            f"could not load {model}: {str(exc).splitlines()[0]}; {download_hint(model)}"
        ) from None
    return place(hf, device, dtype), tokenizer


def place(hf, device: torch.device, dtype: torch.dtype):
    """Move a MusicGen model to ``device`` for inference, its token decoder in ``dtype``."""
    hf.eval().to(device)
    hf.decoder.to(dtype)
    for projection in ("enc_to_dec_proj", "audio_enc_to_dec_proj"):
        if hasattr(hf, projection):
            getattr(hf, projection).to(dtype)
    return hf
