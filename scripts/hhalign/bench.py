"""Performance suite: each stage timed two ways on the same inputs in one process.

The authors' way (one prompt at a time, one pair at a time, training micro-batches
of 2 x accumulation 4 in random order) against ours (length-sorted batches,
micro-batch 8 grouped by length, bf16 training on a GPU), through the very
functions the pipeline's rules call: ``generate``, ``score_pairs``, ``train_sft``,
``train_dpo``. Models are built from the real architectures' configs with random
weights (they cost what the real ones cost and need no download); ``quick`` keeps
2 narrow layers and a small vocabulary so the suite runs in CI.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import transformers
import trl
import yaml
from transformers import (
    DebertaV2Config,
    DebertaV2ForSequenceClassification,
    OPTConfig,
    OPTForCausalLM,
)

from hhalign.generation import generate
from hhalign.models import best_device
from hhalign.scoring import score_pairs
from hhalign.synthetic import generate_rows
from hhalign.tiny import judge_tokenizer, policy_tokenizer, train_bpe

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
    relative_attention=True,
    position_buckets=256,
    max_relative_positions=-1,
    pos_att_type=["p2c", "c2p"],
    norm_rel_ebd="layer_norm",
    share_att_key=True,
    position_biased_input=False,
    type_vocab_size=0,
    layer_norm_eps=1e-7,
    num_labels=1,
)
# Dense bf16 peak FLOP/s for model FLOPs utilisation (vendor data sheets, SXM parts).
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}


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
    torch.manual_seed(seed)
    return OPTForCausalLM(cfg)


def build_judge(size: str, tokenizer, seed: int) -> DebertaV2ForSequenceClassification:
    """DeBERTa-v3-large's architecture (or its quick cut) with random weights."""
    cfg = DebertaV2Config(
        **sized(DEBERTA_V3_LARGE, {**QUICK_DEBERTA, "vocab_size": len(tokenizer)}, size),
        pad_token_id=1,
    )
    torch.manual_seed(seed)
    return DebertaV2ForSequenceClassification(cfg)


def text_windows(tokenizer, n: int, lo: int, hi: int, seed: int) -> list[str]:
    """``n`` texts of ``lo``-``hi`` tokens (uniform), cut from synthetic dialogues."""
    rng = random.Random(seed)
    rows = generate_rows("helpful-base", "test", 300, seed, 0.0)
    stream = tokenizer(" ".join(r["chosen"] for r in rows), add_special_tokens=False)["input_ids"]
    out = []
    for _ in range(n):
        length = rng.randint(lo, hi)
        start = rng.randrange(0, len(stream) - length)
        out.append(tokenizer.decode(stream[start : start + length]))
    return out


def prompts_of(tokenizer, n: int, lo: int, hi: int, seed: int) -> list[str]:
    """Prompts of realistic lengths, ending with the assistant cue."""
    return [t + "\n\nAssistant:" for t in text_windows(tokenizer, n, lo, hi, seed)]


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    """(seconds, result) of one call, with the device synchronised around it."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def pair_row(stage: str, unit: str, n: int, authors_s: float, ours_s: float, **extra) -> dict:
    """One summary row: both timings, throughputs, and the ratio authors/ours."""
    return {
        "stage": stage,
        "unit": unit,
        "n": n,
        "authors_s": round(authors_s, 4),
        "ours_s": round(ours_s, 4),
        "authors_per_s": round(n / authors_s, 4),
        "ours_per_s": round(n / ours_s, 4),
        "speedup": round(authors_s / ours_s, 3),
        **extra,
    }


def bench_generation(model, tokenizer, prompts: list[str], max_new: int, batch: int, device):
    """Per-prompt greedy loop vs our batched length-sorted generation; token agreement."""
    generate(model, tokenizer, prompts[:2], 2, 2)  # warm-up: kernels, allocator
    authors_s, one = timed(lambda: generate(model, tokenizer, prompts, max_new, 1), device)
    ours_s, batched = timed(lambda: generate(model, tokenizer, prompts, max_new, batch), device)
    equal = sum(a.new_ids == b.new_ids for a, b in zip(one, batched, strict=True))
    return pair_row(
        "generation",
        "prompts",
        len(prompts),
        authors_s,
        ours_s,
        batch_size=batch,
        agreement=round(equal / len(prompts), 4),
        agreement_what="share of prompts with identical greedy tokens",
    )


def bench_scoring(
    model,
    tokenizer,
    prompts: list[str],
    responses: list[str],
    batch: int,
    device: str,
    max_tokens: int | None = None,
):
    """Per-pair loop vs our batched length-sorted scoring; largest score difference."""
    score_pairs(model, tokenizer, prompts[:2], responses[:2], 2)  # warm-up
    authors_s, (one, _) = timed(
        lambda: score_pairs(model, tokenizer, prompts, responses, 1), device
    )
    ours_s, (batched, _) = timed(
        lambda: score_pairs(
            model, tokenizer, prompts, responses, batch, max_batch_tokens=max_tokens
        ),
        device,
    )
    diff = max(abs(a - b) for a, b in zip(one, batched, strict=True))
    return pair_row(
        "scoring",
        "pairs",
        len(prompts),
        authors_s,
        ours_s,
        batch_size=batch,
        max_batch_tokens=max_tokens,
        agreement=round(diff, 7),
        agreement_what="largest |score difference|",
    )


def authors_section(section: dict) -> dict:
    """The authors' training loop: micro-batch 2 x accumulation 4, random order, fp32."""
    return {
        **section,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 4,
        "train_sampling_strategy": "random",
        "bf16": False,
    }


def our_section(section: dict, device: str) -> dict:
    """Ours: micro-batch 8 (the same effective batch), grouped by length, bf16 on a GPU."""
    return {
        **section,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "train_sampling_strategy": "group_by_length",
        "gradient_checkpointing": False,
        "bf16": device == "cuda",
    }


def bench_section(section: dict, rows: int) -> dict:
    """A training section cut to ``rows`` examples, one epoch, no checkpoints during timing.

    Logging keeps the section's interval: logging every step cost ~100 ms a step on
    an H100 (measured), more than the step itself, for both ways alike.
    """
    return {
        **section,
        "num_train_epochs": 1,
        "max_train_samples": rows,
        "warmup_steps": 0,
        "save_steps": 10**9,
    }


def padding_share(trainer) -> tuple[int, int]:
    """(real, computed) tokens over one pass of the trainer's own dataloader."""
    real = computed = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        real += int(mask.sum())
        computed += mask.numel()
    return real, computed


@torch.no_grad()
def fixed_batch_loss(trainer, micro: int, rows: int = 8) -> float:
    """Loss on the first ``rows`` examples, computed as micro-batches of ``micro``.

    SFT: token-level mean over the whole batch (transformers normalises accumulated
    micro-batches by the batch's token count, so 4 x 2 and 1 x 8 are the same sum).
    DPO: the mean of per-pair losses (equal micro-batches, so a mean of means).
    """
    model = trainer.model
    model.eval()
    examples = [trainer.train_dataset[i] for i in range(rows)]
    chunks = [trainer.data_collator(examples[i : i + micro]) for i in range(0, rows, micro)]
    device = next(model.parameters()).device
    chunks = [{k: v.to(device) for k, v in c.items()} for c in chunks]
    if "labels" in chunks[0]:
        n = sum(int((c["labels"][:, 1:] != -100).sum()) for c in chunks)
        total = sum(trainer.compute_loss(model, c, num_items_in_batch=n) for c in chunks)
        return float(total)
    return float(sum(trainer.compute_loss(model, c) for c in chunks) / len(chunks))


def training_rows(tokenizer, n: int, lo: int, hi: int, seed: int) -> pd.DataFrame:
    """SFT and DPO columns for ``n`` rows: prompts of ``lo``-``hi`` tokens, 10-60 token replies."""
    prompts = prompts_of(tokenizer, n, lo, hi, seed)
    chosen = text_windows(tokenizer, n, 10, 60, seed + 1)
    rejected = text_windows(tokenizer, n, 10, 60, seed + 2)
    return pd.DataFrame(
        {
            "prompt": prompts,
            "completion": [" " + c for c in chosen],
            "text": [p + " " + c for p, c in zip(prompts, chosen, strict=True)],
            "chosen": [" " + c for c in chosen],
            "rejected": [" " + r for r in rejected],
            "chosen_text": [p + " " + c for p, c in zip(prompts, chosen, strict=True)],
            "rejected_text": [p + " " + r for p, r in zip(prompts, rejected, strict=True)],
        }
    )


def bench_training(stage: str, section: dict, start: str, data: str, rows: int, device: str):
    """Train ``rows`` examples the authors' way and ours; throughput, padding, peak memory."""
    from hhalign.dpo import train_dpo
    from hhalign.sft import train_sft

    results = {}
    for way, sec in (("authors", authors_section), ("ours", lambda s: our_section(s, device))):
        cfg = bench_section(sec(section), rows)
        with tempfile.TemporaryDirectory() as tmp:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            if stage == "sft":
                trainer, summary = train_sft(cfg, data, start, None, f"{tmp}/m", f"{tmp}/c")
            else:
                trainer, summary = train_dpo(
                    cfg, data, start, None, f"{tmp}/m", f"{tmp}/a", f"{tmp}/c"
                )
            real, computed = padding_share(trainer)
            results[way] = {
                "seconds": summary["wall_time_s"],
                "tokens": real,
                "real_share": real / computed,
                "peak_gib": peak_gib(device),
                "params": sum(p.numel() for p in trainer.model.parameters()),
            }
        if way == "authors":  # free its model and optimizer before ours is measured
            del trainer
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
    # The same weights, batched both ways: 4 micro-batches of 2 against one batch of 8.
    loss_diff = abs(fixed_batch_loss(trainer, 2) - fixed_batch_loss(trainer, 8))
    del trainer
    a, o = results["authors"], results["ours"]
    return pair_row(
        f"{stage}_training",
        "rows",
        rows,
        a["seconds"],
        o["seconds"],
        batch_size=8,
        authors_tokens_per_s=round(a["tokens"] / a["seconds"], 1),
        ours_tokens_per_s=round(o["tokens"] / o["seconds"], 1),
        authors_real_token_share=round(a["real_share"], 4),
        ours_real_token_share=round(o["real_share"], 4),
        authors_peak_gib=a["peak_gib"],
        ours_peak_gib=o["peak_gib"],
        agreement=loss_diff,
        agreement_what="|fixed-batch loss, 4 x 2 vs 1 x 8|",
        params=o["params"],
        ours_mfu=mfu(o["params"], o["tokens"] / o["seconds"]),
    )


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def mfu(params: int, tokens_per_s: float) -> float | None:
    """Model FLOPs utilisation, 6 x params x tokens/s over the GPU's bf16 peak (None on CPU)."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
    return round(6 * params * tokens_per_s / peak, 4) if peak else None


def environment() -> dict:
    """Machine, device and library versions, written next to every result."""
    return {
        "device": device_name(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "threads": torch.get_num_threads(),
    }


def full_run_hours(summary: pd.DataFrame, full: dict) -> pd.DataFrame:
    """Estimated hours of the paper's run on this device, the authors' way and ours.

    2 SFT epochs and 2 one-epoch DPO runs over ``full["train_rows"]`` rows, and
    ``full["eval_items"]`` generations and scores, at the measured rows per second.
    Training rows are assumed to have the benchmark's length distribution.
    """
    s = summary.set_index("stage")
    work = {
        "sft_training": 2 * full["train_rows"],
        "dpo_training": 2 * full["train_rows"],
        "generation": full["eval_items"],
        "scoring": full["eval_items"],
    }
    rows = []
    for way in ("authors", "ours"):
        hours = {k: n / s.loc[k, f"{way}_per_s"] / 3600 for k, n in work.items() if k in s.index}
        rows.append({"way": way, **{k: round(v, 2) for k, v in hours.items()}})
        rows[-1]["total_hours"] = round(sum(hours.values()), 2)
    return pd.DataFrame(rows)


def generation_inputs(cfg: dict, tokenizer) -> list[str]:
    """The suite's generation prompts: ``cfg["prompts"]`` of ``cfg["prompt_tokens"]`` tokens."""
    lo, hi = cfg["prompt_tokens"]
    return prompts_of(tokenizer, cfg["prompts"], lo, hi, cfg["seed"])


def scoring_inputs(cfg: dict, tokenizer) -> tuple[list[str], list[str]]:
    """The suite's (prompts, responses) to score: ``cfg["pairs"]`` pairs."""
    lo, hi = cfg["prompt_tokens"]
    prompts = prompts_of(tokenizer, cfg["pairs"], lo, hi, cfg["seed"])
    responses = text_windows(tokenizer, cfg["pairs"], 5, cfg["max_new_tokens"], cfg["seed"] + 3)
    return prompts, responses


def peak_gib(device: str) -> float | None:
    """Peak device memory since the last reset, in GiB (None on CPU)."""
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device == "cuda" else None


def time_sizes(stage: str, run: Callable[[int], Any], n: int, sizes, device, progress):
    """One row per batch size: seconds for ``run(size)`` over ``n`` items, peak memory."""
    run(2)  # warm-up: kernels, allocator
    rows = []
    for size in sizes:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        seconds, _ = timed(lambda b=size: run(b), device)
        rows.append({"stage": stage, "batch_size": size, "n": n, "seconds": round(seconds, 4),
                     "per_s": round(n / seconds, 3), "peak_gib": peak_gib(device)})  # fmt: skip
        progress(rows[-1])
    return rows


def sweep_batches(cfg: dict, sizes: list[int], progress=print) -> pd.DataFrame:
    """Our generation and scoring alone at each batch size: seconds, items/s, peak memory.

    For choosing ``generation.batch_size`` and ``scoring.batch_size`` on a new device;
    the inputs are the suite's own.
    """
    device = best_device()
    p_tok, j_tok = bench_tokenizers(cfg["seed"])
    rows = []
    if "generation" in cfg["stages"]:
        prompts = generation_inputs(cfg, p_tok)
        policy = build_policy(cfg["size"], p_tok, cfg["seed"]).to(device)
        run = partial(generate, policy, p_tok, prompts, cfg["max_new_tokens"])
        rows += time_sizes("generation", run, len(prompts), sizes, device, progress)
        del policy
    if "scoring" in cfg["stages"]:
        prompts, responses = scoring_inputs(cfg, j_tok)
        judge = build_judge(cfg["size"], j_tok, cfg["seed"]).to(device)
        run = partial(score_pairs, judge, j_tok, prompts, responses)
        rows += time_sizes("scoring", run, len(prompts), sizes, device, progress)
        del judge
    return pd.DataFrame(rows).assign(device=device_name(), size=cfg["size"])


def run_suite(cfg: dict, sft: dict, dpo: dict, generation: dict, scoring: dict, progress=print):
    """Every pair of the suite under the ``bench`` config section; returns (summary, env)."""
    device = best_device()
    p_tok, j_tok = bench_tokenizers(cfg["seed"])
    lo, hi = cfg["prompt_tokens"]
    rows = []
    stages = cfg["stages"]
    if "generation" in stages:
        policy = build_policy(cfg["size"], p_tok, cfg["seed"]).to(device)
        prompts = generation_inputs(cfg, p_tok)
        rows.append(
            bench_generation(
                policy, p_tok, prompts, cfg["max_new_tokens"], generation["batch_size"], device
            )
        )
        progress(rows[-1])
        del policy
    if "scoring" in stages:
        judge = build_judge(cfg["size"], j_tok, cfg["seed"]).to(device)
        prompts, responses = scoring_inputs(cfg, j_tok)
        batch, max_tokens = scoring["batch_size"], scoring["max_batch_tokens"]
        rows.append(bench_scoring(judge, j_tok, prompts, responses, batch, device, max_tokens))
        progress(rows[-1])
        del judge
    with tempfile.TemporaryDirectory() as tmp:
        start, data = Path(tmp) / "policy", Path(tmp) / "rows.parquet"
        if {"sft_training", "dpo_training"} & set(stages):
            build_policy(cfg["size"], p_tok, cfg["seed"]).save_pretrained(start)
            p_tok.save_pretrained(start)
            training_rows(p_tok, cfg["train_rows"], lo, hi, cfg["seed"]).to_parquet(data)
        for stage, section in (("sft", sft), ("dpo", dpo)):
            if f"{stage}_training" in stages:
                rows.append(
                    bench_training(stage, section, str(start), str(data), cfg["train_rows"], device)
                )
                progress(rows[-1])
    env = {**environment(), "size": cfg["size"]}
    return pd.DataFrame(rows).assign(device=env["device"], size=cfg["size"]), env


def plot_speedups(summary: pd.DataFrame, path: str) -> None:
    """Bar chart of authors' time / our time per stage, with both timings written on the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    bars = ax.bar(summary["stage"], summary["speedup"], color="#3b6ea5")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    for bar, (_, r) in zip(bars, summary.iterrows(), strict=True):
        label = f"{r['speedup']:.2f}x\n{r['authors_s']:.1f}s -> {r['ours_s']:.1f}s"
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_ylabel("speed-up over the authors' way")
    ax.set_ylim(0, max(summary["speedup"].max() * 1.35, 1.5))
    ax.set_title(f"{summary['size'].iloc[0]} size on {summary['device'].iloc[0]}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """One-off runs outside Snakemake, e.g. the real architectures on a CPU or a GPU box:
    ``python -m hhalign.bench --size full --stages generation scoring --out results/bench-cpu``.
    """
    from hhalign.config import prepare

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--size", choices=["full", "quick"])
    parser.add_argument("--stages", nargs="+")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--generation-batch", type=int, help="overrides generation.batch_size")
    parser.add_argument("--scoring-batch", type=int, help="overrides scoring.batch_size")
    parser.add_argument("--scoring-max-tokens", type=int, help="overrides scoring.max_batch_tokens")
    sweep_help = "instead of the suite: our generation and scoring at these batch sizes"
    parser.add_argument("--sweep", type=int, nargs="+", metavar="BATCH", help=sweep_help)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    paper = prepare(config, str(Path(args.config).resolve().parent))["paper"]
    cfg = {
        **config["bench"],
        **{k: v for k, v in (("size", args.size), ("stages", args.stages)) if v},
    }
    if args.sweep:
        sweep = sweep_batches(cfg, args.sweep)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        sweep.to_csv(Path(args.out) / "batch_sweep.csv", index=False)
        print(sweep.to_string())
        return
    generation = {
        **paper["generation"],
        "batch_size": args.generation_batch or paper["generation"]["batch_size"],
    }
    scoring = {
        **paper["scoring"],
        "batch_size": args.scoring_batch or paper["scoring"]["batch_size"],
        "max_batch_tokens": args.scoring_max_tokens or paper["scoring"]["max_batch_tokens"],
    }
    summary, env = run_suite(cfg, paper["sft"], paper["dpo"], generation, scoring)
    write_outputs(summary, env, cfg, args.out)
    print(summary.to_string(), json.dumps(env, indent=1), sep="\n")


def write_outputs(summary: pd.DataFrame, env: dict, cfg: dict, out_dir: str) -> None:
    """summary.csv, full_run_estimate.csv, environment.json and speedup.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "summary.csv", index=False)
    full_run_hours(summary, cfg["full_run"]).to_csv(out / "full_run_estimate.csv", index=False)
    (out / "environment.json").write_text(json.dumps(env, indent=2, sort_keys=True) + "\n")
    plot_speedups(summary, str(out / "speedup.png"))


if __name__ == "__main__":
    main()
