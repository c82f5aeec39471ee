"""Tiny stand-ins for the checkpoints the `full` paths load, built from configs and saved
with ``save_pretrained`` the way a downloaded checkpoint is laid out on disk (this module
holds no tests; nothing here downloads).

- a Stable Diffusion inpainting pipeline: a 9-channel UNet (4 latent + 1 mask + 4
  masked-image latents), a VAE, a CLIP text encoder and a CLIP tokenizer whose vocabulary
  and merges are made here, a DDIM scheduler; about 2 MB, native resolution 64;
- a causal LM of another architecture than the tiny GPT-2 the project builds (Qwen2), with
  its own byte-level BPE tokenizer (no BOS, EOS ``<|im_end|>``, pad ``<|endoftext|>``, as
  Qwen's instruct models have) and a chat template.

``python -m tests.tiny_pipelines DEST`` writes both under DEST (``inpainting/`` and
``causal_lm/``); bench/gpu_check.sh uses that.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

INPAINTING_RESOLUTION = 64
LM_EOS = "<|im_end|>"
LM_PAD = "<|endoftext|>"
# Qwen2's template, shortened: what a real instruct checkpoint ships in tokenizer_config.json.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LM_TEXTS = (
    "query: running shoes\nexpansion: sneakers | trainers | jogging shoes",
    "query: red mug\nexpansion: coffee cup | tea mug | ceramic cup",
    "query: kids backpack\nexpansion: school bag | children rucksack",
    "wireless earbuds with charging case, black",
    "stainless steel water bottle 750 ml",
    "cotton t-shirt for men, crew neck, navy blue",
    "leather wallet with coin pocket",
    "ceramic plant pot with drainage hole",
)


def build_inpainting_pipeline(dest: str | Path, *, seed: int = 0) -> Path:
    """Save an untrained Stable Diffusion inpainting pipeline at `dest` (native size 64)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionInpaintPipeline,
        UNet2DConditionModel,
    )
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    # CLIP's BPE over bytes: every byte alone and as a word end, no merges; enough to
    # tokenize any prompt (one token per character).
    alphabet = sorted(ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in [*alphabet, *(ch + "</w>" for ch in alphabet)]:
        vocab.setdefault(token, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=INPAINTING_RESOLUTION // 2,  # latents: the VAE below halves the image
        in_channels=9,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=INPAINTING_RESOLUTION,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe: Any = StableDiffusionInpaintPipeline(  # diffusers' stubs miss save_pretrained
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(dest)
    return Path(dest)


def build_causal_lm(
    dest: str | Path, *, texts: Sequence[str] = LM_TEXTS, seed: int = 0, vocab_size: int = 400
) -> Path:
    """Save an untrained 2-layer Qwen2 causal LM and its tokenizer (trained on `texts`) at
    `dest`, laid out as a Hugging Face checkpoint folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = [LM_PAD, "<|im_start|>", LM_EOS]
    bpe.train_from_iterator(
        list(texts),
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=LM_EOS,
        pad_token=LM_PAD,
        additional_special_tokens=["<|im_start|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    # Saved in bfloat16, as Qwen's checkpoints are: the loader must not train in it.
    model = cast(Any, Qwen2ForCausalLM(config)).to(torch.bfloat16)  # stubs type .to() oddly
    model.save_pretrained(dest)
    tok.save_pretrained(dest)
    return Path(dest)


@pytest.fixture(scope="session")
def tiny_inpainting_pipeline(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return build_inpainting_pipeline(tmp_path_factory.mktemp("full") / "inpainting")


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return build_causal_lm(tmp_path_factory.mktemp("full") / "causal_lm")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.tiny_pipelines DEST")
    root = Path(sys.argv[1])
    print(build_inpainting_pipeline(root / "inpainting"))
    print(build_causal_lm(root / "causal_lm"))
