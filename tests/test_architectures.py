"""Policy-side checks on tiny models of several architectures, built from config."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from hhalign.dpo import check_lora_targets, lora_targets
from hhalign.models import InputError

SMALL = {
    "vocab_size": 128,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
ARCHITECTURES = {
    "gpt2": (
        lambda: GPT2LMHeadModel(GPT2Config(vocab_size=128, n_embd=32, n_layer=1, n_head=2)),
        ["c_attn"],
    ),
    "llama": (lambda: LlamaForCausalLM(LlamaConfig(**SMALL)), ["q_proj", "v_proj"]),
    "qwen2": (lambda: Qwen2ForCausalLM(Qwen2Config(**SMALL)), ["q_proj", "v_proj"]),
    "gpt_neox": (lambda: GPTNeoXForCausalLM(GPTNeoXConfig(**SMALL)), ["query_key_value"]),
}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_lora_targets_that_peft_can_wrap_are_accepted(arch):
    build, targets = ARCHITECTURES[arch]
    model = build()
    check_lora_targets(model, targets)  # GPT-2's c_attn is a Conv1D, not an nn.Linear
    peft = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=targets))
    assert any("lora_" in n for n, _ in peft.named_parameters())
    with pytest.raises(InputError, match=r"it has: \[.*\]\. Fix dpo.lora.target_modules"):
        check_lora_targets(build(), ["no_such_proj"])


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_null_target_modules_resolve_per_architecture(arch):
    """A model ladder across families needs no per-family LoRA config: null picks PEFT's
    default for the architecture, which here matches the modules each family has."""
    build, targets = ARCHITECTURES[arch]
    model = build()
    assert lora_targets(model, None) == targets
    assert lora_targets(model, ["a", "b"]) == ["a", "b"]  # written out: used as written
    check_lora_targets(model, lora_targets(model, None))


def test_null_target_modules_fail_for_an_architecture_peft_does_not_know():
    model = ARCHITECTURES["llama"][0]()
    model.config.model_type = "my_new_family"
    with pytest.raises(InputError, match=r"model_type 'my_new_family'.*Fix: list"):
        lora_targets(model, None)


def test_the_error_lists_what_the_model_has():
    model = ARCHITECTURES["gpt_neox"][0]()
    with pytest.raises(InputError) as err:
        check_lora_targets(model, ["q_proj", "v_proj"])
    assert "query_key_value" in str(err.value) and isinstance(model, torch.nn.Module)


def test_lengths_beyond_the_models_positions_fail_at_start_up_naming_the_key():
    from hhalign.generation import generate
    from hhalign.models import check_length, position_limit

    gpt2 = GPT2LMHeadModel(
        GPT2Config(vocab_size=128, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    )
    assert position_limit(gpt2) == 64
    check_length(gpt2, 64, "sft.max_length")
    with pytest.raises(InputError, match=r"sft.max_length: 65 tokens exceed the 64 "):
        check_length(gpt2, 65, "sft.max_length")

    class Tok:  # the tokenizer interface generate() uses before the model runs
        padding_side, pad_token_id, eos_token_id, bos_token_id = "right", 0, 1, 1

        def __call__(self, prompts, **kwargs):
            return {"input_ids": [[5] * 40 for _ in prompts]}

    with pytest.raises(
        InputError,
        match=r"generation.max_new_tokens: 90 tokens \(the "
        r"longest prompt, 40 tokens, plus 50 new\) exceed the 64",
    ):
        generate(gpt2, Tok(), ["a prompt"], 50, batch_size=1)
