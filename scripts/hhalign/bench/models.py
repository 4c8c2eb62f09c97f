"""The suite's models: the real architectures' configs (facebook/opt-350m and
OpenAssistant/reward-model-deberta-v3-large-v2) with random weights, or their quick cut;
built by the same function as the tiny world's models (``hhalign.tiny.build_model``)."""

from __future__ import annotations

from transformers import (
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    OPTConfig,
    OPTForCausalLM,
)

from hhalign.bpe import train_bpe
from hhalign.synthetic import generate_rows
from hhalign.tiny import DEBERTA_V3_ATTENTION, build_model, judge_tokenizer, policy_tokenizer

# facebook/opt-350m and OpenAssistant/reward-model-deberta-v3-large-v2 (config.json values).
OPT_350M = dict(
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    ffn_dim=4096,
    word_embed_proj_dim=512,
    vocab_size=50272,
    max_position_embeddings=2048,
    do_layer_norm_before=False,
    activation_function="relu",
)
DEBERTA_V3_LARGE = dict(
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    vocab_size=128100,
    max_position_embeddings=512,
    position_buckets=256,
    layer_norm_eps=1e-7,
    **DEBERTA_V3_ATTENTION,
)


# quick: the real attention types, 2 narrow layers and the tokenizer's own small vocabulary
# (at 50k-128k the embeddings and LM head alone would make CI training take minutes).
QUICK = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 4}
QUICK_OPT = {**QUICK, "ffn_dim": 512, "word_embed_proj_dim": 128}
QUICK_DEBERTA = {**QUICK, "intermediate_size": 512}


def sized(arch: dict, quick: dict, size: str) -> dict:
    """An architecture at a suite size: the real one (full) or its quick cut."""
    if size not in ("full", "quick"):
        raise ValueError(f"bench.size must be full or quick, not {size!r}")
    return arch if size == "full" else {**arch, **quick}


def bench_tokenizers(seed: int):
    """(policy, judge) tokenizers trained on synthetic text: ids only index the embeddings."""
    rows = generate_rows("harmless-base", "train", 400, seed, 0.0)
    bpe = train_bpe((r["chosen"] for r in rows), 4000)
    return policy_tokenizer(bpe), judge_tokenizer(bpe)


def build_policy(size: str, tokenizer, seed: int) -> OPTForCausalLM:
    """OPT-350M's architecture (or its quick cut) with random weights."""
    cfg = OPTConfig(
        **sized(OPT_350M, {**QUICK_OPT, "vocab_size": len(tokenizer)}, size),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return build_model(OPTForCausalLM, cfg, seed)


def build_judge(size: str, tokenizer, seed: int) -> DebertaV2ForSequenceClassification:
    """DeBERTa-v3-large's architecture (or its quick cut) with random weights."""
    cfg = DebertaV2Config(
        **sized(DEBERTA_V3_LARGE, {**QUICK_DEBERTA, "vocab_size": len(tokenizer)}, size),
        pad_token_id=1,
    )
    return build_model(DebertaV2ForSequenceClassification, cfg, seed)
