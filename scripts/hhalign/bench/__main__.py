"""The suite from the command line, outside Snakemake (``python -m hhalign.bench``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml

from hhalign.bench.report import write_outputs
from hhalign.bench.statistics import time_claims
from hhalign.bench.suite import run_suite, step_overhead, sweep_batches
from hhalign.config import prepare


def main(argv: list[str] | None = None) -> None:
    """One-off runs outside Snakemake, e.g. the real architectures on a CPU or a GPU box:
    ``python -m hhalign.bench --size full --stages generation scoring --out results/bench-cpu``.
    """
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
    claims_help = "instead of the suite: time the claims statistics on PROMPTS x SEEDS scores"
    parser.add_argument(
        "--claims", type=int, nargs=2, metavar=("PROMPTS", "SEEDS"), help=claims_help
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    paper = prepare(config, str(Path(args.config).resolve().parent))["paper"]
    cfg = {
        **config["bench"],
        **{k: v for k, v in (("size", args.size), ("stages", args.stages)) if v},
    }
    if args.claims:
        row = time_claims(*args.claims, {**config["claims"], "metrics": config["metrics"]})
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "claims_timing.json").write_text(json.dumps(row, indent=2) + "\n")
        print(json.dumps(row, indent=1))
        return
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
    overhead = step_overhead(cfg, paper["sft"], paper["dpo"])
    write_outputs(summary, env, cfg, args.out, overhead=overhead)
    print(summary.to_string(), json.dumps(env, indent=1), sep="\n")
    if overhead:
        print(overhead["summary"].to_string(), overhead["parts"].to_string(), sep="\n")


if __name__ == "__main__":
    main()
