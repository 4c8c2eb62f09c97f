"""One reader per file kind that one stage writes and another reads, each checked against
the prompt set the file answers before anything computes on it:

- a prompt set (rule select_prompts): ``prompts/<protocol>/<set>.jsonl``, ids unique;
- generations (rule generate_responses; the dataset's chosen answers, rule
  write_chosen_responses): ``generations/<protocol>/<run>/<set>.jsonl``;
- score files (rule score_responses; another judge's, score_with_judge or, a guard's,
  score_with_guard; the authors' released scores, import_audit_scores): ``scores/...csv``.

A file answering a prompt set holds each of its ids once per sample (``generation.samples``;
one for the chosen answers), no other id, the columns its writer writes and (a score file)
finite scores. One that does not stops the run naming it (relative to ``results_dir``), its
rows and ids (the first few), the rule that wrote it and the fix: that rule rerun for it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hhalign.io import SCORE_COLUMNS, StageFileError, read_jsonl_lines, read_scores
from hhalign.runs import CHOSEN, split_run

SHOWN = 5  # ids and rows named in a message
MARKERS = ("prompts", "generations", "scores")
PROMPT_COLUMNS = ("id", "prompt", "chosen")
GENERATION_COLUMNS = ("id", "prompt", "response", "new_tokens", "stopped_at_eos")
CHOSEN_COLUMNS = ("id", "prompt", "response")


@dataclass(frozen=True)
class PromptSet:
    """What a file answering one prompt set must hold: each id of the prompt file (in its
    order) ``samples`` times, sample indices 0..samples-1 where there are several;
    ``source``: the prompt file ("" where the files agree among themselves: the audit)."""

    ids: tuple[str, ...]
    samples: int = 1
    source: str = ""

    def answered_by(self, run: str) -> PromptSet:
        """The prompt set as ``run``'s file answers it: the chosen answers once a prompt."""
        return PromptSet(self.ids, 1, self.source) if run == CHOSEN else self


def split_path(path: str | Path) -> tuple[str, list[str]]:
    """(results directory, parts under it) of a file in the pipeline's layout ("" and all
    parts for another file); an audit file (``<results>/audit/scores/...``) keeps ``audit``."""
    parts = list(Path(path).parts)
    at = next((i for i, p in enumerate(parts) if p in MARKERS), None)
    if at is None:
        return "", parts
    if at > 0 and parts[at - 1] == "audit":
        at -= 1
    return (str(Path(*parts[:at])) if at else "."), parts[at:]


def relative(path: str | Path) -> str:
    """``path`` relative to its results directory (unchanged when not in the layout)."""
    root, parts = split_path(path)
    return "/".join(parts) if root else str(path)


def writer(path: str | Path, guard: bool = False) -> str:
    """The rule that writes a file of the layout (``guard``: a guard judge's score file)."""
    parts = split_path(path)[1] + ["", "", ""]
    if parts[0] == "audit":
        return "import_audit_scores"
    if parts[0] == "prompts":
        return "select_prompts"
    if parts[0] == "generations":
        return "write_chosen_responses" if parts[2] == CHOSEN else "generate_responses"
    if parts[1] == "judges":
        return "score_with_guard" if guard else "score_with_judge"
    return "score_responses"


def rerun_command(target: str | Path, stage: str) -> str:
    """The command that reruns ``stage`` for ``target``, with the run's config files (set
    by the workflow for its jobs: ``HHALIGN_CONFIGFILES``), the target first."""
    files = os.environ.get("HHALIGN_CONFIGFILES", "")
    return (
        f"snakemake {target}"
        + (f" --configfile {files}" if files else "")
        + (f" --forcerun {stage}")
    )


def fix_line(path: str | Path, stage: str) -> str:
    """Where a damaged file came from and the fix: its rule rerun for it."""
    return f"Written by rule {stage}. Fix: {rerun_command(path, stage)}"


def damaged(path: str | Path, problem: str, stage: str) -> StageFileError:
    """The error of a file that is not what ``stage`` writes: file, problem, rule, fix."""
    return StageFileError(f"{relative(path)}: {problem}. {fix_line(path, stage)}")


def listed(items: Sequence[str], total: int | None = None) -> str:
    """The first ``SHOWN`` items, and how many more (of ``total``, when more than given)."""
    more = (len(items) if total is None else total) - SHOWN
    return ", ".join(items[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def response_name(key: tuple[str, int], samples: int) -> str:
    """One response's name: its prompt id, and its sample index where there are several."""
    return key[0] if samples == 1 else f"{key[0]} sample {key[1]}"


def row_problems(ids: Sequence[str], samples: Sequence[int] | None, want: PromptSet) -> list[str]:
    """What is wrong with a file's rows (their ``ids`` and ``samples`` in file order) against
    ``want``: responses missing, rows not in it, responses on several rows, with the first
    few ids and rows (1-based, after a header). Empty when the rows are exactly ``want``'s."""
    if want.samples > 1 and samples is None:
        return [
            f"no 'sample' column, where each prompt has {want.samples} responses "
            f"(generation.samples: {want.samples}) ({len(ids)} rows)"
        ]
    keys = list(zip(ids, samples if samples is not None else [0] * len(ids), strict=True))
    expected = [(i, s) for i in want.ids for s in range(want.samples)]
    have, known = Counter(keys), set(expected)
    name = "responses" if want.samples > 1 else "prompt ids"
    of = f"{len(expected)} {name}" + (f" of {relative(want.source)}" if want.source else "")
    problems = [f"{len(keys)} rows for the {of}"]
    missing = [response_name(k, want.samples) for k in expected if k not in have]
    if missing:
        problems.append(f"{len(missing)} missing: {listed(missing)}")
    extra = [
        f"row {n + 1} ({response_name(k, want.samples)})"
        for n, k in enumerate(keys)
        if k not in known
    ]
    if extra:
        problems.append(f"{len(extra)} not among them: {listed(extra)}")
    twice = [k for k in dict.fromkeys(keys) if have[k] > 1 and k in known]
    if twice:
        rows: dict[tuple[str, int], list[str]] = {k: [] for k in twice[:SHOWN]}
        for n, k in enumerate(keys):
            if k in rows:
                rows[k].append(str(n + 1))
        named = [
            f"{response_name(k, want.samples)} on rows {' and '.join(r)}" for k, r in rows.items()
        ]
        problems.append(f"{len(twice)} on more than one row: {listed(named, len(twice))}")
    return problems if len(problems) > 1 else []


def check_columns(path: str | Path, table: pd.DataFrame, columns: Sequence[str], stage: str):
    """Stop naming ``path`` unless ``table`` has rows and ``columns``."""
    if table.empty:
        raise damaged(path, "no rows (an empty file)", stage)
    lacking = [c for c in columns if c not in table.columns]
    if lacking:
        raise damaged(path, f"no column {', '.join(lacking)} (it has {list(table.columns)})", stage)


def check_table(
    path: str, table: pd.DataFrame, columns: Sequence[str], want: PromptSet, stage: str
):
    """Stop naming ``path`` unless ``table`` has rows, ``columns`` in every row and exactly
    ``want``'s responses (``row_problems``)."""
    check_columns(path, table, columns, stage)
    filled = [c for c in columns if c != "truncated_input"]  # None: not recorded
    holes = table[filled].isna().any(axis=1).to_numpy().nonzero()[0]
    if len(holes):
        rows = [f"row {n + 1} (id {table['id'].iloc[n]})" for n in holes]
        raise damaged(path, f"{len(holes)} rows lack a field of {filled}: {listed(rows)}", stage)
    has_samples = "sample" in table.columns and table["sample"].notna().any()
    samples = table["sample"].fillna(-1).astype(int).tolist() if has_samples else None
    problems = row_problems(table["id"].astype(str).tolist(), samples, want)
    if problems:
        raise damaged(path, "; ".join(problems), stage)


def read_rows(path: str | Path, stage: str) -> list[dict]:
    """A JSON-lines file a stage wrote: a line that is not a JSON object stops naming it."""
    rows = []
    for index, obj, err in read_jsonl_lines(path):
        if err is not None or not isinstance(obj, dict):
            why = err or "not a JSON object"
            raise damaged(path, f"line {index + 1}: {why} (cut short, or edited)", stage)
        rows.append(obj)
    return rows


def read_prompts(path: str | Path) -> list[dict]:
    """A prompt file (rule select_prompts): rows with an id, a prompt and the dataset's
    chosen answer each, ids unique; one with no rows stops naming the file."""
    rows = read_rows(path, "select_prompts")
    table = pd.DataFrame(rows)
    ids = tuple(dict.fromkeys(table["id"].astype(str))) if "id" in table else ()
    check_table(str(path), table, PROMPT_COLUMNS, PromptSet(ids), "select_prompts")
    return rows


def read_prompt_set(path: str | Path, samples: int = 1) -> PromptSet:
    """A prompt file as what a file answering it must hold, ``samples`` responses a prompt."""
    return PromptSet(tuple(str(r["id"]) for r in read_prompts(path)), samples, str(path))


def prompt_sets(paths: Sequence[str], keys: Sequence[Sequence]) -> dict[tuple[str, str], PromptSet]:
    """(protocol, prompt set) -> its ``PromptSet``, from the prompt files ``paths`` keyed
    (protocol, prompt set, responses per prompt); a file protocols share is read once."""
    read: dict[str, PromptSet] = {}
    out = {}
    for path, (protocol, prompt_set, samples) in zip(paths, keys, strict=True):
        if path not in read:
            read[path] = read_prompt_set(path)
        out[(protocol, prompt_set)] = PromptSet(read[path].ids, int(samples), path)
    return out


def read_generations(path: str | Path, want: PromptSet) -> list[dict]:
    """A generation file (a model's responses, or the dataset's chosen answers): whole JSON
    rows with the fields its writer writes, exactly ``want``'s responses."""
    stage = writer(path)
    rows = read_rows(path, stage)
    columns = CHOSEN_COLUMNS if stage == "write_chosen_responses" else GENERATION_COLUMNS
    check_table(
        str(path), pd.DataFrame(rows), columns, want.answered_by(Path(path).parent.name), stage
    )
    return rows


def read_score_file(path: str | Path, stage: str) -> pd.DataFrame:
    """A score file: whole CSV, finite scores (``io.read_scores``), the columns every score
    file has (its rows are checked against its prompt set by ``read_checked``)."""
    table = read_scores(path, relative(path), fix_line(path, stage))
    check_columns(path, table, SCORE_COLUMNS, stage)
    return table


def consensus(tables: Sequence[pd.DataFrame], runs: Sequence[str]) -> PromptSet:
    """What files of one prompt set must hold where no prompt file says (the audit): the
    ids most of them have, as many samples as most of the models' files have."""
    ids = Counter(tuple(sorted(set(t["id"].astype(str)))) for t in tables).most_common(1)[0][0]
    ks = [
        int(t["sample"].max()) + 1 if "sample" in t else 1
        for t, r in zip(tables, runs, strict=True)
        if r != CHOSEN
    ]
    return PromptSet(ids, Counter(ks).most_common(1)[0][0] if ks else 1)


def read_checked(
    paths: Sequence[str],
    keys: Sequence[tuple],
    prompts: dict[tuple[str, str], PromptSet] | None,
    guards: Sequence[str] = (),
) -> list[pd.DataFrame]:
    """Each score file (keys: judge, protocol, run, prompt set) read and checked against its
    prompt set: ``prompts[(protocol, prompt set)]``, or where None, ``consensus``."""
    stages = [writer(path, key[0] in guards) for path, key in zip(paths, keys, strict=True)]
    tables = [read_score_file(path, stage) for path, stage in zip(paths, stages, strict=True)]
    groups: dict[tuple[str, str], list[int]] = {}
    for n, key in enumerate(keys):
        groups.setdefault((key[1], key[3]), []).append(n)
    for (protocol, prompt_set), members in groups.items():
        runs = [keys[n][2] for n in members]
        want = (
            prompts[(protocol, prompt_set)]
            if prompts is not None
            else consensus([tables[n] for n in members], runs)
        )
        for n, run in zip(members, runs, strict=True):
            check_table(paths[n], tables[n], SCORE_COLUMNS, want.answered_by(run), stages[n])
    return tables


def read_score_files(
    paths: Sequence[str],
    keys: Sequence[tuple[str, str, str]],
    seeds: list[int] | None = None,
    prompts: dict[tuple[str, str], PromptSet] | None = None,
) -> pd.DataFrame:
    """Score files, each checked (``read_checked``), as one long table with protocol,
    variant, seed and prompt_set columns; ``keys`` name each file's (protocol, run, prompt
    set), where a run is a variant with ``_seed<N>`` for seeds after the first of ``seeds``
    (see ``config.run_name``)."""
    return read_judged_files(paths, [("", *k) for k in keys], seeds, prompts).drop(columns="judge")


def read_judged_files(
    paths: Sequence[str],
    keys: Sequence[tuple],
    seeds: list[int] | None = None,
    prompts: dict[tuple[str, str], PromptSet] | None = None,
    guards: Sequence[str] = (),
) -> pd.DataFrame:
    """Score files of several judges, keyed (judge, protocol, run, prompt set), each checked
    (``read_checked``; ``guards``: the judges rule score_with_guard scores), as one long
    table with judge, protocol, variant, seed and prompt_set columns."""

    seeds = seeds or [0]
    parts = []
    for table, (judge, protocol, run, prompt_set) in zip(
        read_checked(paths, keys, prompts, guards), keys, strict=True
    ):
        variant, seed = split_run(run, seeds)
        parts.append(
            table.assign(
                protocol=protocol, variant=variant, seed=seed, prompt_set=prompt_set, judge=judge
            )
        )
    table = pd.concat(parts, ignore_index=True)
    if "sample" in table:  # greedy files (one response a prompt) beside sampled ones
        table["sample"] = table["sample"].fillna(0).astype(int)
    return table
