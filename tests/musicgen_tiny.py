"""Tiny random MusicGen checkpoints for tests: real transformers models, saved to disk.

A checkpoint built here has the layout ``save_pretrained`` gives a real one
(config.json, model.safetensors, generation_config.json, tokenizer files), so
tests load it through the same code path users run on facebook/musicgen-*.
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = (
    "dark ambient dungeon calm forest battle epic drums strings piano happy sad "
    "tense boss fight slow fast bright night town tavern"
).split()


def build_tokenizer(path: Path) -> None:
    """Save a small word-level tokenizer (T5-style: pad 0, eos 1, unk 2) to ``path``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in WORDS:
        vocab[word] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    fast.save_pretrained(path)


def tiny_config(*, stereo: bool = False, text_hidden: int = 24):
    """A MusicgenConfig shaped like musicgen-small (EnCodec 32 kHz, 50 Hz, 4 codebooks
    per channel) but a few thousand parameters wide."""
    from transformers import EncodecConfig, MusicgenConfig, MusicgenDecoderConfig, T5Config

    text = T5Config(
        vocab_size=len(WORDS) + 3, d_model=text_hidden, d_kv=8, d_ff=32, num_layers=1,
        num_decoder_layers=1, num_heads=2, relative_attention_num_buckets=8,
    )
    audio = EncodecConfig(
        sampling_rate=32000, audio_channels=1, chunk_length_s=None, overlap=None,
        upsampling_ratios=[8, 5, 4, 4], codebook_size=64, hidden_size=16, num_filters=4,
        num_lstm_layers=1, num_residual_layers=1, use_causal_conv=False, normalize=False,
        norm_type="weight_norm", pad_mode="reflect", use_conv_shortcut=False,
        target_bandwidths=[1.2],  # 4 codebooks x 6 bits x 50 Hz
    )
    codebooks = 8 if stereo else 4
    decoder = MusicgenDecoderConfig(
        vocab_size=64, num_codebooks=codebooks, audio_channels=2 if stereo else 1,
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
        max_position_embeddings=1024, pad_token_id=64, bos_token_id=64, decoder_start_token_id=64,
    )
    return MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)


@torch.no_grad()
def like_trained(model) -> None:
    """Give a freshly built MusicGen the weight scales of a trained one.

    transformers' init (std 0.02) leaves a tiny decoder nearly deaf to its text, and
    EnCodec's codebooks start as zeros (trained ones are learned), which would decode
    every code to the same sound; so the decoder and projections are scaled like a
    trained network and the codebooks drawn at random.
    """
    projections = [getattr(model, n) for n in ("enc_to_dec_proj", "audio_enc_to_dec_proj") if hasattr(model, n)]
    for module in [*model.decoder.modules(), *projections]:
        if isinstance(module, torch.nn.Linear):
            module.weight.normal_(0.0, module.in_features**-0.5)
        elif isinstance(module, torch.nn.Embedding):
            module.weight.normal_(0.0, 1.0)
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.normal_(0.0, 10.0)
        layer.codebook.embed_avg.copy_(layer.codebook.embed)
        layer.codebook.cluster_size.fill_(1.0)


def build_tiny_musicgen(path: Path, *, stereo: bool = False, seed: int = 0) -> Path:
    """Save a tiny random MusicGen checkpoint and its tokenizer to ``path``; return it."""
    from transformers import MusicgenForConditionalGeneration

    path = Path(path)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(tiny_config(stereo=stereo)).eval()
    like_trained(model)
    model.generation_config.pad_token_id = 64
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.bos_token_id = 64
    model.save_pretrained(path)
    build_tokenizer(path)
    return path


# -- the published families' structure, at test widths ---------------------------------

FAMILIES = ("mono", "stereo", "melody")
"""mono: musicgen-small/medium/large (EnCodec 32 kHz, 4 codebooks of 2048); stereo:
musicgen-stereo-* (8 codebooks, left/right interleaved, the same mono codec per
channel); melody: musicgen-melody (prefix-conditioned decoder, 12-bin chroma)."""


def family_config(family: str):
    """The config of a published MusicGen family with its exact structure (codec rates,
    codebooks, vocabulary, special tokens, positions, chroma) and tiny widths."""
    from transformers import (EncodecConfig, MusicgenConfig, MusicgenDecoderConfig,
                              MusicgenMelodyConfig, MusicgenMelodyDecoderConfig, T5Config)

    text = T5Config(
        vocab_size=len(WORDS) + 3, d_model=24, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1,
        num_heads=2, relative_attention_num_buckets=8,
    )
    audio = EncodecConfig(  # encodec_32khz: 640 samples a frame, 4 x 11-bit codebooks = 2.2 kbps
        sampling_rate=32000, audio_channels=1, chunk_length_s=None, overlap=None,
        upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, hidden_size=16, num_filters=4,
        num_lstm_layers=1, num_residual_layers=1, use_causal_conv=False, normalize=False,
        norm_type="weight_norm", pad_mode="reflect", use_conv_shortcut=False, target_bandwidths=[2.2],
    )
    stereo = family == "stereo"
    widths = dict(
        vocab_size=2048, num_codebooks=8 if stereo else 4, audio_channels=2 if stereo else 1,
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64, max_position_embeddings=2048,
        pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048,
    )
    if family == "melody":
        return MusicgenMelodyConfig(text_encoder=text, audio_encoder=audio,
                                    decoder=MusicgenMelodyDecoderConfig(**widths), num_chroma=12, chroma_length=235)
    if family in ("mono", "stereo"):
        return MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=MusicgenDecoderConfig(**widths))
    raise ValueError(f"unknown family {family!r}")


def build_family(path: Path, family: str, *, seed: int = 0) -> Path:
    """Save a tiny random checkpoint of ``family`` as ``save_pretrained`` saves the published
    one: weights, config, generation config, and its processor (feature extractor and
    tokenizer). Returns ``path``."""
    from transformers import (EncodecFeatureExtractor, MusicgenForConditionalGeneration,
                              MusicgenMelodyForConditionalGeneration, MusicgenProcessor,
                              PreTrainedTokenizerFast)

    path = Path(path)
    torch.manual_seed(seed)
    melody = family == "melody"
    cls = MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    model = cls(family_config(family)).eval()
    like_trained(model)
    generation = model.generation_config
    generation.pad_token_id = generation.decoder_start_token_id = generation.bos_token_id = 2048
    generation.do_sample, generation.top_k, generation.guidance_scale = True, 250, 3.0
    generation.max_length = 1500
    model.save_pretrained(path)
    build_tokenizer(path)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(path)
    if melody:
        # MusicgenMelodyProcessor needs torchaudio to exist; its feature extractor's settings
        # are the published ones, written as save_pretrained writes them.
        import json

        (path / "preprocessor_config.json").write_text(json.dumps({
            "feature_extractor_type": "MusicgenMelodyFeatureExtractor", "processor_class": "MusicgenMelodyProcessor",
            "feature_size": 12, "sampling_rate": 32000, "hop_length": 4096, "chunk_length": 30, "n_fft": 16384,
            "num_chroma": 12, "n_samples": 960000, "padding_side": "right", "padding_value": 0.0,
            "return_attention_mask": True, "stem_indices": [3, 2],
        }, indent=2))
    else:
        MusicgenProcessor(EncodecFeatureExtractor(feature_size=1, sampling_rate=32000), tokenizer).save_pretrained(path)
    return path


def damage(path: Path, word: str) -> Path:
    """Overwrite the text embedding of ``word`` in the checkpoint at ``path`` with NaN, as
    a corrupted download or an fp16 overflow would: prompts with that word fail, others play."""
    from safetensors.torch import load_file, save_file

    weights = load_file(path / "model.safetensors")
    row = WORDS.index(word) + 3  # after <pad>, </s>, <unk>
    for name in ("text_encoder.shared.weight", "text_encoder.encoder.embed_tokens.weight"):
        if name in weights:
            weights[name][row] = float("nan")
    save_file(weights, path / "model.safetensors", metadata={"format": "pt"})
    return path
