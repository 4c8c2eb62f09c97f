"""Tiny models: real classes, built from config, through save_pretrained/from_pretrained."""

import pandas as pd
import torch
from support import heavy_imports
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from hhalign.tiny import build_tiny_world

PROMPT = "\n\nHuman: How do I bake bread?\n\nAssistant:"


def test_round_trip_gives_identical_outputs(tiny_world, tmp_path):
    w = tiny_world["models"]
    for role, auto in (
        ("policy", AutoModelForCausalLM),
        ("judge", AutoModelForSequenceClassification),
    ):
        model, tok = w[role]
        model.save_pretrained(tmp_path / role)
        tok.save_pretrained(tmp_path / role)
        assert (tmp_path / role / "model.safetensors").is_file()
        loaded = auto.from_pretrained(tmp_path / role, use_safetensors=True).eval()
        tok2 = AutoTokenizer.from_pretrained(tmp_path / role)
        args = (PROMPT, " Mix flour.") if role == "judge" else (PROMPT,)
        enc, enc2 = tok(*args, return_tensors="pt"), tok2(*args, return_tensors="pt")
        assert torch.equal(enc["input_ids"], enc2["input_ids"])
        with torch.no_grad():
            a, b = model.eval()(**enc).logits, loaded(**enc2).logits
            assert torch.allclose(a, b, atol=1e-6, rtol=0)
        assert type(loaded).__name__ == type(model).__name__


def test_tokenizers_follow_the_real_conventions(tiny_world):
    w = tiny_world["models"]
    ptok, jtok = w["policy"][1], w["judge"][1]
    ids = ptok(PROMPT)["input_ids"]
    assert ids[0] == ptok.bos_token_id == ptok.eos_token_id == 2  # OPT prepends </s>
    assert ptok.pad_token_id == 1
    pair = jtok(PROMPT, " Mix flour.")["input_ids"]
    assert pair[0] == jtok.cls_token_id and pair.count(jtok.sep_token_id) == 2
    assert ptok.decode(ids, skip_special_tokens=True) == PROMPT


def test_sizes_and_determinism(tiny_cfg, tiny_world):
    """A second build from the same corpus and config equals the session's world."""
    sft = pd.read_parquet(tiny_world["root"] / "sft.parquet")
    a, b = tiny_world["models"], build_tiny_world(sft["text"].tolist(), tiny_cfg["tiny"])
    model = a["policy"][0]
    assert type(model).__name__ == "OPTForCausalLM"
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    assert a["judge"][0].config.num_labels == 1
    for x, y in zip(a["policy"][0].parameters(), b["policy"][0].parameters(), strict=True):
        assert torch.equal(x, y)


def test_the_tokenizer_job_imports_neither_torch_nor_transformers():
    """Rule build_tiny_tokenizer needs only ``tokenizers``: its library imports (hhalign.bpe,
    hhalign.io) once pulled in the models' stack, ~4 s of CPU for a sub-second BPE."""
    code = (
        "from hhalign.bpe import save_bpe, train_bpe, world_texts\n"
        "from hhalign.dataformats import transcript_rows\n"
        "from hhalign.io import read_jsonl, stage_logger\n"
    )
    assert heavy_imports(code) == []
