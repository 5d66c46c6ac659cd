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


def build_tiny_musicgen(path: Path, *, stereo: bool = False, seed: int = 0) -> Path:
    """Save a tiny random MusicGen checkpoint and its tokenizer to ``path``; return it."""
    from transformers import MusicgenForConditionalGeneration

    path = Path(path)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(tiny_config(stereo=stereo)).eval()
    # transformers' init (std 0.02) leaves a tiny decoder nearly deaf to its text; scale the
    # decoder like a trained network so conditions and guidance change the greedy codes.
    with torch.no_grad():
        for module in [*model.decoder.modules(), model.enc_to_dec_proj]:
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, module.in_features**-0.5)
            elif isinstance(module, torch.nn.Embedding):
                module.weight.normal_(0.0, 1.0)
    model.generation_config.pad_token_id = 64
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.bos_token_id = 64
    model.save_pretrained(path)
    build_tokenizer(path)
    return path
