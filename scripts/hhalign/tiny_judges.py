"""Tiny judges for the offline world: a judge of each kind, built from config with the
real classes (a DeBERTa text-pair classifier, or a Qwen2 with a chat template).

Apart from ``hhalign.tiny`` because a judge's build depends on its kind (``judges.KINDS``):
an edit to the judges rebuilds the tiny judges, never the tiny policy and what trains on it.
"""

from __future__ import annotations

from tokenizers import ByteLevelBPETokenizer
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForSequenceClassification

from hhalign.judges import KINDS
from hhalign.tiny import build_model, judge_tokenizer, policy_tokenizer, tiny_deberta

# The tiny chat and guard judges' template: BOS first (so rendering must not add a second),
# then each turn as <|role|> text, as chat-tuned reward models and guards expect a template.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
)


def tiny_judge(bpe: ByteLevelBPETokenizer, kind: str, sizes: dict, max_positions: int, seed: int):
    """A tiny judge of ``kind`` (config judges[].kind, ``judges.KINDS``) and its tokenizer:
    a DeBERTa text-pair classifier for a kind without a chat template (pair); otherwise a
    Qwen2 with a chat template, a sequence classifier or a causal LM as the kind loads."""
    if not KINDS[kind].chat_template:
        tok = judge_tokenizer(bpe)
        return tiny_deberta(tok, sizes, max_positions, seed), tok
    tok = policy_tokenizer(bpe)
    tok.chat_template = TINY_CHAT_TEMPLATE
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=sizes["hidden_size"],
        num_hidden_layers=sizes["num_hidden_layers"],
        num_attention_heads=sizes["num_attention_heads"],
        num_key_value_heads=sizes["num_attention_heads"],
        intermediate_size=sizes["intermediate_size"],
        max_position_embeddings=max_positions,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        num_labels=1,
    )
    model_class = {"reward": Qwen2ForSequenceClassification, "causal": Qwen2ForCausalLM}[
        KINDS[kind].loads
    ]
    return build_model(model_class, config, seed), tok
