"""Tiny models for the offline world, built from config with the real run's classes.

On the byte-level BPE that ``bpe`` trains on the synthetic text, the policy is an
OPTForCausalLM and the judge a DebertaV2ForSequenceClassification with one output. Both
are saved with ``save_pretrained`` and loaded back by the same ``from_pretrained`` code
that loads Hub models.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from tokenizers import processors
from tokenizers.implementations import BaseTokenizer
from transformers import (
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from hhalign.bpe import train_bpe


def policy_tokenizer(bpe: BaseTokenizer) -> PreTrainedTokenizerFast:
    """An OPT-like tokenizer: prepends </s> as BOS, pads with <pad> on the right (generation
    sets left padding itself, ``generation.generate``)."""
    backend = bpe._tokenizer.__class__.from_str(bpe._tokenizer.to_str())
    backend.post_processor = processors.TemplateProcessing(
        single="</s> $A", pair="</s> $A $B", special_tokens=[("</s>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="</s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=1_000_000,
    )


def judge_tokenizer(bpe: BaseTokenizer) -> PreTrainedTokenizerFast:
    """A DeBERTa-like tokenizer: ``[CLS] prompt [SEP] response [SEP]`` for text pairs."""
    backend = bpe._tokenizer.__class__.from_str(bpe._tokenizer.to_str())
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=512,
    )


def build_model(model_class: type, config, seed: int):
    """A model of ``model_class`` from ``config`` with random weights drawn from ``seed``: how
    every model without released weights is made (the tiny world's, the benchmark suite's)."""
    torch.manual_seed(seed)
    return model_class(config)


def tiny_policy(tokenizer: PreTrainedTokenizerFast, sizes: dict, max_positions: int, seed: int):
    """The tiny policy of ``sizes["architecture"]`` (opt as the paper, llama, gpt2, gpt_neox
    or qwen2): the same sizes in each family's own config names, initialised from ``seed``."""
    h, layers = sizes["hidden_size"], sizes["num_hidden_layers"]
    heads, ffn = sizes["num_attention_heads"], sizes["ffn_dim"]
    ids = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    decoder = {  # the config names Llama, Qwen2 and GPT-NeoX share
        "hidden_size": h,
        "intermediate_size": ffn,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "max_position_embeddings": max_positions,
    }
    families = {
        "opt": (
            OPTForCausalLM,
            OPTConfig,
            {
                "hidden_size": h,
                "word_embed_proj_dim": h,
                "num_hidden_layers": layers,
                "num_attention_heads": heads,
                "ffn_dim": ffn,
                "max_position_embeddings": max_positions,
            },
        ),
        "llama": (LlamaForCausalLM, LlamaConfig, {**decoder, "tie_word_embeddings": False}),
        "gpt2": (
            GPT2LMHeadModel,
            GPT2Config,
            {
                "n_embd": h,
                "n_inner": ffn,
                "n_layer": layers,
                "n_head": heads,
                "n_positions": max_positions,
            },
        ),
        "gpt_neox": (  # Pythia's architecture (no grouped-query attention)
            GPTNeoXForCausalLM,
            GPTNeoXConfig,
            {k: v for k, v in decoder.items() if k != "num_key_value_heads"}
            | {"tie_word_embeddings": False},
        ),
        "qwen2": (Qwen2ForCausalLM, Qwen2Config, {**decoder, "tie_word_embeddings": True}),
    }
    arch = sizes.get("architecture", "opt")
    if arch not in families:
        raise ValueError(f"unknown tiny.policy.architecture {arch!r} (one of {sorted(families)})")
    model_class, config_class, names = families[arch]
    return build_model(model_class, config_class(**names, **ids), seed)


# DeBERTa-v3's attention (OpenAssistant/reward-model-deberta-v3-large-v2's config.json), for
# every DeBERTa built from config here: the tiny judge and the benchmark's real-size one.
DEBERTA_V3_ATTENTION = dict(
    relative_attention=True,
    max_relative_positions=-1,
    pos_att_type=["p2c", "c2p"],
    norm_rel_ebd="layer_norm",
    share_att_key=True,
    position_biased_input=False,
    type_vocab_size=0,
    num_labels=1,
)


def tiny_deberta(tokenizer: PreTrainedTokenizerFast, sizes: dict, max_positions: int, seed: int):
    """A DebertaV2ForSequenceClassification with one output, DeBERTa-v3 style attention."""
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        hidden_size=sizes["hidden_size"],
        num_hidden_layers=sizes["num_hidden_layers"],
        num_attention_heads=sizes["num_attention_heads"],
        intermediate_size=sizes["intermediate_size"],
        max_position_embeddings=max_positions,
        position_buckets=64,
        pad_token_id=tokenizer.pad_token_id,
        **DEBERTA_V3_ATTENTION,
    )
    return build_model(DebertaV2ForSequenceClassification, config, seed)


def build_tiny_policy(bpe: BaseTokenizer, cfg: dict):
    """(model, tokenizer) of the tiny policy alone, on the run's tiny tokenizer (a model
    ladder's other rungs)."""
    tok = policy_tokenizer(bpe)
    return tiny_policy(tok, cfg["policy"], cfg["max_position_embeddings"], cfg["seed"]), tok


def build_tiny_world(texts: Iterable[str], cfg: dict) -> dict:
    """Tokenizers and models from the ``tiny`` config section: {policy, judge} -> (model, tok)."""
    return tiny_world(train_bpe(texts, cfg["vocab_size"]), cfg)


def tiny_world(bpe: BaseTokenizer, cfg: dict) -> dict:
    """The tiny policy and judge on one trained BPE: {policy, judge} -> (model, tok)."""
    p_tok, j_tok = policy_tokenizer(bpe), judge_tokenizer(bpe)
    n = cfg["max_position_embeddings"]
    return {
        "policy": (tiny_policy(p_tok, cfg["policy"], n, cfg["seed"]), p_tok),
        "judge": (tiny_deberta(j_tok, cfg["judge"], n, cfg["seed"]), j_tok),
    }
