"""The GPU check's markdown table (``gpu_check.md``) from what ``gpu_check.json`` holds."""

from __future__ import annotations


def table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of ``columns`` (absent values blank)."""
    head = "| " + " | ".join(columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
    body = "".join(
        "| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |\n"
        for r in rows
    )
    return head + body


def markdown(result: dict) -> str:
    """Device and versions, the suite, the step overhead, the concurrency groups, equality,
    and what was skipped or failed."""
    env = result.get("environment") or {}
    suite = result["suite"].get("result", {})
    parts = [
        f"# GPU check ({result['mode']})\n",
        f"Device: {env.get('device')}; torch {env.get('torch')}, transformers "
        f"{env.get('transformers')}, trl {env.get('trl')}; {result['elapsed_s']} s of a "
        f"{result['budget_s']:.0f} s budget.\n",
        "## Suite, both ways\n",
        table(
            suite.get("summary", []),
            ["stage", "n", "authors_s", "ours_s", "speedup", "agreement", "agreement_what"],
        )
        if result["suite"].get("ok")
        else f"not measured: {result['suite'].get('error', '')[-600:]}\n",
        "## Host cost of a step (1-layer width-8 OPT), before and after Part 1's switches\n",
        table(
            suite.get("step_overhead", []),
            [
                "stage",
                "before_wall_ms",
                "after_wall_ms",
                "after_over_before_wall",
                "weights_max_diff",
            ],
        ),
        f"## Training jobs on one device ({result['job_rows']} rows each)\n",
        table(
            result["groups"],
            [
                "stage",
                "config",
                "jobs",
                "ok",
                "per_job_tokens_per_s",
                "aggregate_tokens_per_s",
                "aggregate_over_one_job",
                "end_to_end_tokens_per_s",
                "peak_gib",
                "graphs",
                "recompiles",
            ],
        ),
        "Configs: " + "; ".join(f"{k}: {v}" for k, v in result["configs"].items()) + "\n",
        "## Equality against today's settings (single jobs)\n",
        table(result["equality"], ["stage", "config", "first_loss_diff", "final_loss_diff"]),
    ]
    failed = [g for g in result["groups"] if g["errors"]]
    if failed or result["skipped"]:
        parts.append("## Not measured\n")
        parts += [
            f"- {g['stage']} {g['config']} x{g['jobs']}: {g['errors'][0][-300:]}\n" for g in failed
        ]
        parts += [
            f"- {s['stage']} {s['config']} x{s['jobs']}: {s['why']}\n" for s in result["skipped"]
        ]
    return "\n".join(parts)
