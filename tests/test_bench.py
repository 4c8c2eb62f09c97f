"""The performance suite: its pure helpers, and the quick suite run through Snakemake."""

import json

import pandas as pd
import pytest
from support import CORES, ROOT, snakemake, tiny_config

from hhalign.bench import (
    authors_section,
    bench_tokenizers,
    build_judge,
    build_policy,
    full_run_hours,
    our_section,
    pair_row,
    prompts_of,
    sized,
    sweep_batches,
)


def test_pair_row_ratio_is_authors_over_ours():
    row = pair_row("generation", "prompts", 100, 50.0, 5.0)
    assert row["speedup"] == 10.0
    assert row["authors_per_s"] == 2.0 and row["ours_per_s"] == 20.0


def test_sizes_are_the_real_architectures_or_a_quick_cut():
    with pytest.raises(ValueError, match="full or quick"):
        sized({}, {}, "huge")
    p_tok, j_tok = bench_tokenizers(0)
    opt = build_policy("quick", p_tok, 0)
    assert opt.config.num_hidden_layers == 2 and opt.config.vocab_size == len(p_tok)
    judge = build_judge("quick", j_tok, 0)
    assert judge.config.position_buckets == 256 and judge.config.relative_attention


def test_full_size_configs_match_the_released_models():
    """OPT-350M: 24 x 1024, ffn 4096, 512-d embeddings, post-LN; DeBERTa-v3-large: 24 x 1024."""
    from hhalign.bench import DEBERTA_V3_LARGE, OPT_350M

    assert (OPT_350M["num_hidden_layers"], OPT_350M["hidden_size"], OPT_350M["ffn_dim"]) == (
        24,
        1024,
        4096,
    )
    assert OPT_350M["word_embed_proj_dim"] == 512 and OPT_350M["vocab_size"] == 50272
    assert not OPT_350M["do_layer_norm_before"]
    assert DEBERTA_V3_LARGE["vocab_size"] == 128100 and DEBERTA_V3_LARGE["position_buckets"] == 256


def test_prompts_have_the_requested_lengths():
    tok, _ = bench_tokenizers(0)
    prompts = prompts_of(tok, 40, 20, 300, 1)
    lengths = [len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    assert all(p.endswith("\n\nAssistant:") for p in prompts)
    assert min(lengths) >= 15 and max(lengths) <= 320 and max(lengths) - min(lengths) > 100


def test_the_two_training_ways_share_the_effective_batch():
    section = {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4, "bf16": False}
    a, o = authors_section(section), our_section(section, "cpu")
    assert a["per_device_train_batch_size"] * a["gradient_accumulation_steps"] == 8
    assert o["per_device_train_batch_size"] * o["gradient_accumulation_steps"] == 8
    assert o["train_sampling_strategy"] == "group_by_length" and not o["bf16"]
    assert our_section(section, "cuda")["bf16"]


def test_batch_sweep_times_each_size_on_the_suite_inputs():
    cfg = {
        "size": "quick",
        "seed": 0,
        "stages": ["generation", "scoring"],
        "prompt_tokens": [8, 24],
        "prompts": 6,
        "pairs": 6,
        "max_new_tokens": 8,
    }
    sweep = sweep_batches(cfg, [1, 3], progress=lambda _: None)
    assert list(zip(sweep["stage"], sweep["batch_size"], strict=True)) == [
        ("generation", 1),
        ("generation", 3),
        ("scoring", 1),
        ("scoring", 3),
    ]
    assert (sweep["n"] == 6).all() and (sweep["seconds"] > 0).all()
    rates = (6 / sweep["seconds"]).tolist()  # from seconds rounded to 0.1 ms
    assert sweep["per_s"].tolist() == pytest.approx(rates, rel=0.02)


def test_full_run_estimate_scales_measured_rates():
    summary = pd.DataFrame(
        [
            {"stage": "sft_training", "authors_per_s": 10.0, "ours_per_s": 40.0},
            {"stage": "generation", "authors_per_s": 1.0, "ours_per_s": 10.0},
        ]
    )
    est = full_run_hours(summary, {"train_rows": 3600, "eval_items": 3600}).set_index("way")
    assert est.loc["authors", "sft_training"] == 0.2  # 2 epochs x 3600 rows at 10 rows/s
    assert est.loc["ours", "generation"] == 0.1
    assert est.loc["authors", "total_hours"] == 1.2


@pytest.mark.slow
def test_quick_suite_times_every_pair_and_the_two_ways_agree(tmp_path):
    # 160 rows a measurement, not the preset's 400: training is most of this test's time,
    # and length grouping acts on any size (megabatches of min(rows // 32, 50) x 8 rows).
    small = tmp_path / "small.yaml"
    small.write_text(f"results_dir: {tmp_path}\nbench: {{train_rows: 160, overhead_repeats: 1}}\n")
    out = snakemake(
        "--cores",
        CORES,
        f"{tmp_path}/bench/summary.csv",
        "--configfile",
        "presets/tiny.yaml",
        str(small),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    s = pd.read_csv(tmp_path / "bench" / "summary.csv").set_index("stage")
    assert "'n': 160" in (tmp_path / "logs" / "run_benchmark.log").read_text()
    assert set(s.index) == {"generation", "scoring", "sft_training", "dpo_training"}
    assert (s[["authors_s", "ours_s", "speedup"]] > 0).all().all()
    assert (s["speedup"] - s["authors_s"] / s["ours_s"]).abs().max() < 0.01
    assert s.loc["generation", "agreement"] >= 0.95  # fp32: batched greedy = one at a time
    assert s.loc["scoring", "agreement"] < 1e-4  # largest score difference
    for stage in ("sft_training", "dpo_training"):
        assert s.loc[stage, "agreement"] < 1e-4  # fixed-batch loss, 4 x 2 vs 1 x 8
        # Length grouping computes fewer padding tokens than random micro-batches of 2.
        assert s.loc[stage, "ours_real_token_share"] > s.loc[stage, "authors_real_token_share"]
    est = pd.read_csv(tmp_path / "bench" / "full_run_estimate.csv")
    assert est.groupby("plan", sort=False)["way"].apply(list).to_dict() == {
        plan: ["authors", "ours"]
        for plan in (
            "paper protocol",
            "corrected protocol",
            "corrected protocol, 5 seeds",
            "corrected protocol, 4 samples a prompt",
        )
    }
    assert (est["total_hours"] > 0).all()
    # step_overhead: the host's cost of a step, today's switches and the lean ones, same weights.
    over = pd.read_csv(tmp_path / "bench" / "step_overhead.csv").set_index("stage")
    assert list(over.index) == ["sft", "dpo"]
    assert (
        (over[["before_wall_ms", "after_wall_ms", "before_cpu_ms", "after_cpu_ms"]] > 0).all().all()
    )
    assert (over["weights_max_diff"] == 0.0).all()  # the switches leave every bit alone on CPU
    assert over.loc["sft", "bare_loop_cpu_ms"] > 0  # the floor: a plain loop, no trainer
    parts = pd.read_csv(tmp_path / "bench" / "step_profile.csv")
    for stage in ("sft", "dpo"):
        mine = parts[parts["stage"] == stage].set_index("part")
        assert {"total", "optimizer step", "data: collation", "backward"} <= set(mine.index)
        named = mine.drop(index=["total", "other (the loop, uncategorised)"])
        assert (named["before_ms"] >= 0).all() and mine.loc["total", "before_ms"] > 0
        # the token counter is the one part the lean switches remove outright
        assert mine.loc["token counter (num_input_tokens_seen)", "after_ms"] < 0.01
    env = json.loads((tmp_path / "bench" / "environment.json").read_text())
    assert {"device", "torch", "transformers", "trl", "size"} <= set(env)
    assert (tmp_path / "bench" / "speedup.png").stat().st_size > 0


def test_full_run_estimate_per_plan_counts_epochs_seeds_and_evaluations():
    from hhalign.bench.suite import study_plans

    summary = pd.DataFrame(
        [
            {"stage": "sft_training", "authors_per_s": 10.0, "ours_per_s": 40.0},
            {"stage": "dpo_training", "authors_per_s": 10.0, "ours_per_s": 40.0},
            {"stage": "generation", "authors_per_s": 1.0, "ours_per_s": 10.0},
        ]
    )
    paper = {"sft": {"num_train_epochs": 2}, "dpo": {"num_train_epochs": 1}}
    corrected = {"sft": {"num_train_epochs": 2}, "dpo": {"num_train_epochs": 2}}
    plans = study_plans(paper, corrected, seeds=5)
    est = full_run_hours(summary, {"train_rows": 3600, "eval_items": 400}, plans)
    ours = est[est["way"] == "ours"].set_index("plan")
    assert ours.loc["paper protocol", "sft_training"] == 0.05  # 2 x 3600 rows at 40 rows/s
    assert ours.loc["paper protocol", "dpo_training"] == 0.05  # 2 runs x 1 epoch
    assert ours.loc["corrected protocol", "dpo_training"] == 0.1  # 2 runs x 2 epochs
    five = ours.loc["corrected protocol, 5 seeds"]
    assert five["sft_training"] == 0.25 and five["dpo_training"] == 0.5
    assert five["generation"] == round(400 * 16 / 4 / 10 / 3600, 2)  # Base once, 3 x 5 runs
    four = ours.loc["corrected protocol, 4 samples a prompt"]
    assert four["generation"] == round(4 * ours.loc["corrected protocol", "generation"], 2)


def test_host_switches_off_leave_a_job_as_it_was_and_foreach_needs_plain_adamw():
    from hhalign.plan import section_json
    from hhalign.switches import HOST_SWITCHES
    from hhalign.train import trainer_kwargs, use_foreach_adamw

    base = {"seed": 1, "gradient_checkpointing": False}
    assert section_json({**base, **HOST_SWITCHES}) == section_json(base)
    assert '"adamw_foreach": true' in section_json({**base, "adamw_foreach": True})
    kwargs = trainer_kwargs(base, "out")  # absent switches read as off: today's arguments
    assert kwargs["logging_nan_inf_filter"] and kwargs["dataloader_num_workers"] == 0
    assert kwargs["include_num_input_tokens_seen"] == "non_padding"

    class Args:
        optim = "adamw_torch_fused"

    class Fused:
        args, model = Args(), None

        @staticmethod
        def get_optimizer_cls_and_kwargs(args, model):
            import torch

            return torch.optim.AdamW, {"fused": True}

    from hhalign.models import InputError

    with pytest.raises(InputError, match="adamw_foreach needs optim: adamw_torch"):
        use_foreach_adamw(Fused(), {"adamw_foreach": True, "optim": "adamw_torch_fused"})
    assert use_foreach_adamw(Fused(), {}) is not None  # off: the trainer as built


def test_step_profile_times_each_part_exclusive_of_the_parts_it_calls():
    import time

    from hhalign.bench.overhead import StepProfile

    profile = StepProfile()
    profile.active = True
    inner = profile._wrap(lambda: time.sleep(0.02), "inner")
    outer = profile._wrap(lambda: (time.sleep(0.01), inner()), "outer")
    outer()
    assert profile.seconds["inner"] >= 0.02
    assert 0.01 <= profile.seconds["outer"] < 0.02  # the inner call is not counted twice


@pytest.mark.slow
def test_collation_workers_give_the_same_weights(tmp_path):
    """dataloader_num_workers moves collation to worker processes: the same batches in the
    same order, so the same weights, bit for bit (SFT and LoRA DPO, CPU)."""
    from hhalign.bench.overhead import overhead_section, overhead_world, train_once, weights_diff
    from hhalign.config import prepare

    paper = prepare(tiny_config(), str(ROOT))["paper"]
    start, data = overhead_world(str(tmp_path), 40, 0)
    for stage in ("sft", "dpo"):
        for workers in (0, 2):
            section = {**overhead_section(paper[stage], 40), "dataloader_num_workers": workers}
            train_once(stage, section, start, data, f"{tmp_path}/{stage}{workers}")
        assert weights_diff(f"{tmp_path}/{stage}0/m", f"{tmp_path}/{stage}2/m") == 0.0
