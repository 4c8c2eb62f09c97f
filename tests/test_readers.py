"""The readers every stage reads through (``hhalign.readers``): a damaged prompt, generation
or score file stops naming the file (relative to results_dir), its rows and ids, the rule
that wrote it and the fix, never a shifted table. Each file is damaged as a careful user
would (the csv module, records whole)."""

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from support import ROOT

from hhalign.io import ScoreFileError, StageFileError, score_frame, write_jsonl, write_scores
from hhalign.readers import (
    PromptSet,
    prompt_sets,
    read_generations,
    read_prompt_set,
    read_score_files,
    relative,
    writer,
)

N = 6
SETS = ("harmful", "helpful")


def prompt_rows(prompt_set: str) -> list[dict]:
    return [
        {"id": f"{prompt_set}-{i:03d}", "set": prompt_set, "prompt": f"Human: q{i}", "chosen": "a"}
        for i in range(N)
    ]


def responses(prompt_set: str, samples: int = 1) -> list[dict]:
    """Response rows as rule generate_responses writes them."""
    rows = []
    for p in prompt_rows(prompt_set):
        for k in range(samples):
            rows.append(
                {
                    "id": p["id"],
                    **({"sample": k} if samples > 1 else {}),
                    "prompt": p["prompt"],
                    "response": f"r{k}",
                    "new_tokens": 2,
                    "stopped_at_eos": True,
                    "cut_at_human": False,
                    "hit_token_limit": False,
                }
            )
    return rows


@pytest.fixture
def run(tmp_path) -> Path:
    """A results directory of one protocol: prompts, Base's and SFT's generations and score
    files (the harmful and helpful sets)."""
    root = tmp_path / "results" / "x"
    rng = np.random.default_rng(0)
    for s in SETS:
        write_jsonl(root / f"prompts/paper/{s}.jsonl", prompt_rows(s))
        for variant in ("base", "sft"):
            rows = responses(s)
            write_jsonl(root / f"generations/paper/{variant}/{s}.jsonl", rows)
            table = score_frame(rows, rng.normal(size=len(rows)).tolist(), [False] * len(rows))
            write_scores(table, root / f"scores/paper/{variant}/{s}.csv")
    return root


def keys_and_paths(root: Path, variants=("base", "sft")) -> tuple[list, list]:
    keys = [("paper", v, s) for v in variants for s in SETS]
    return keys, [str(root / f"scores/{p}/{v}/{s}.csv") for p, v, s in keys]


def prompts_of(root: Path, samples: int = 1) -> dict:
    keys = [("paper", s, samples) for s in SETS]
    return prompt_sets([str(root / f"prompts/paper/{s}.jsonl") for s in SETS], keys)


def edit_csv(path: Path, change) -> None:
    """Edit a CSV file's records with the csv module (the header is row 0)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    change(rows)
    with open(path, "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_NONNUMERIC).writerows(rows)


def stops(run: Path, error=StageFileError) -> str:
    """What reading the run's score files says."""
    keys, paths = keys_and_paths(run)
    with pytest.raises(error) as err:
        read_score_files(paths, keys, [0], prompts_of(run))
    return str(err.value)


def test_a_whole_run_reads_as_before(run):
    keys, paths = keys_and_paths(run)
    table = read_score_files(paths, keys, [0], prompts_of(run))
    assert len(table) == 2 * 2 * N and list(table.columns[-4:]) == [
        "protocol",
        "variant",
        "seed",
        "prompt_set",
    ]


def test_a_score_file_missing_one_row_names_the_file_the_id_the_stage_and_the_fix(run):
    """Before: make_tables gave n_harmful 5 and a shifted mean; make_claims blamed the
    prompt selection ("rerun select_prompts"), naming no file and no id."""
    path = run / "scores/paper/sft/harmful.csv"
    edit_csv(path, lambda rows: rows.pop(4))  # harmful-003
    msg = stops(run)
    assert msg.startswith(
        "scores/paper/sft/harmful.csv: 5 rows for the 6 prompt ids of "
        "prompts/paper/harmful.jsonl; 1 missing: harmful-003. Written by rule score_responses."
    ), msg
    assert msg.endswith(f"Fix: snakemake {path} --forcerun score_responses")
    assert "select_prompts" not in msg and "base" not in msg


def test_a_duplicated_row_names_both_rows(run):
    """Before: make_tables counted 13 responses, n_harmful still 6, a shifted mean;
    make_claims crashed in pandas ("Index contains duplicate entries, cannot reshape")."""
    edit_csv(run / "scores/paper/sft/harmful.csv", lambda rows: rows.insert(5, rows[5]))
    msg = stops(run)
    assert "scores/paper/sft/harmful.csv: 7 rows for the 6 prompt ids" in msg
    assert "1 on more than one row: harmful-004 on rows 5 and 6" in msg
    assert "--forcerun score_responses" in msg


def test_a_score_file_cut_mid_line_names_the_file(run):
    """Before: pandas' ParserError ("EOF inside string starting at row 3"), no file named."""
    path = run / "scores/paper/sft/harmful.csv"
    text = path.read_text()
    path.write_text(text[: text.index("harmful-003") + 20])
    msg = stops(run, ScoreFileError)
    assert msg.startswith("scores/paper/sft/harmful.csv: not a whole CSV file (")
    assert "EOF inside string" in msg and "cut short" in msg
    assert msg.endswith(f"Fix: snakemake {path} --forcerun score_responses")


def test_a_nan_score_names_file_row_id_and_stage(run):
    edit_csv(run / "scores/paper/base/helpful.csv", lambda rows: rows[3].__setitem__(3, "nan"))
    msg = stops(run, ScoreFileError)
    assert msg.startswith("scores/paper/base/helpful.csv: 1 score(s) missing or not a finite")
    assert "row 3 (id helpful-002: 'nan')" in msg and "Written by rule score_responses" in msg


def test_a_score_file_with_an_id_of_no_prompt_names_the_row(run):
    edit_csv(run / "scores/paper/sft/helpful.csv", lambda rows: rows[6].__setitem__(0, "h-9"))
    msg = stops(run)
    assert "1 missing: helpful-005" in msg and "1 not among them: row 6 (h-9)" in msg


def test_a_generation_file_with_an_extra_row_is_named_not_the_right_one(run):
    """Before: scoring did not notice ("7 pairs scored"), make_tables reported n_harmful 7 and
    make_claims blamed base, the file that is right."""
    path = run / "generations/paper/sft/harmful.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    write_jsonl(path, [*rows, {**rows[-1], "id": "harmful-050"}])
    want = read_prompt_set(run / "prompts/paper/harmful.jsonl")
    assert len(read_generations(run / "generations/paper/base/harmful.jsonl", want)) == N
    with pytest.raises(StageFileError) as err:
        read_generations(path, want)
    msg = str(err.value)
    assert msg.startswith(
        "generations/paper/sft/harmful.jsonl: 7 rows for the 6 prompt ids of "
        "prompts/paper/harmful.jsonl; 1 not among them: row 7 (harmful-050). Written by rule "
        "generate_responses. Fix: snakemake"
    ), msg
    assert msg.endswith("--forcerun generate_responses") and "base" not in msg


def test_a_generation_file_cut_mid_line_is_named_by_line(run):
    path = run / "generations/paper/sft/helpful.jsonl"
    path.write_text(path.read_text()[:-30])
    with pytest.raises(StageFileError, match=r"helpful.jsonl: line 6: invalid_json.*generate_resp"):
        read_generations(path, read_prompt_set(run / "prompts/paper/helpful.jsonl"))


def test_sampled_files_hold_every_sample_of_every_prompt(run, tmp_path):
    """generation.samples: 3: a file without the sample column, or a sample missing, stops;
    the dataset's chosen answers (one a prompt) pass."""
    want = PromptSet(tuple(p["id"] for p in prompt_rows("harmful")), 3, "prompts/p/harmful.jsonl")
    path = run / "generations/paper/dpo/harmful.jsonl"
    write_jsonl(path, responses("harmful", 3))
    assert len(read_generations(path, want)) == 3 * N
    write_jsonl(
        path, [r for r in responses("harmful", 3) if (r["id"], r["sample"]) != ("harmful-001", 2)]
    )
    with pytest.raises(StageFileError, match="1 missing: harmful-001 sample 2"):
        read_generations(path, want)
    rows = responses("harmful", 3)
    score = run / "scores/judges/chat/paper/dpo/harmful.csv"
    write_scores(
        score_frame(rows, [0.0] * len(rows), [False] * len(rows)).drop(columns="sample"), score
    )
    with pytest.raises(StageFileError) as err:
        read_score_files(
            [str(score)], [("paper", "dpo", "harmful")], [0], {("paper", "harmful"): want}
        )
    assert "no 'sample' column, where each prompt has 3 responses (generation.samples: 3)" in str(
        err.value
    )
    assert "Written by rule score_with_judge" in str(err.value)
    chosen = run / "scores/paper/chosen/harmful.csv"
    write_scores(score_frame(responses("harmful"), [0.0] * N, [False] * N), chosen)
    table = read_score_files(
        [str(chosen)], [("paper", "chosen", "harmful")], [0], {("paper", "harmful"): want}
    )
    assert len(table) == N


def test_without_prompt_files_the_files_must_agree_among_themselves(run):
    """The audit (the authors' released scores): the ids most files have; the odd one out
    is named, with the rule that imports the release."""
    audit = run / "audit"
    for v in ("base", "sft", "dpo"):
        for s in SETS:
            (audit / f"scores/paper/{v}").mkdir(parents=True, exist_ok=True)
            (audit / f"scores/paper/{v}/{s}.csv").write_bytes(
                (run / f"scores/paper/{'base' if v == 'dpo' else v}/{s}.csv").read_bytes()
            )
    edit_csv(audit / "scores/paper/base/helpful.csv", lambda rows: rows.pop())
    keys, paths = keys_and_paths(audit, ("base", "sft", "dpo"))
    with pytest.raises(StageFileError) as err:
        read_score_files(paths, keys, [0])
    msg = str(err.value)
    assert msg.startswith(
        "audit/scores/paper/base/helpful.csv: 5 rows for the 6 prompt ids; 1 missing: helpful-005"
    )
    assert "Written by rule import_audit_scores" in msg


def test_a_prompt_file_with_an_id_twice_names_select_prompts(run):
    path = run / "prompts/paper/helpful.jsonl"
    rows = prompt_rows("helpful")
    write_jsonl(path, [*rows, rows[2]])
    with pytest.raises(StageFileError, match=r"helpful-002 on rows 3 and 7.*select_prompts"):
        read_prompt_set(path)
    path.write_text("")
    with pytest.raises(StageFileError, match=r"prompts/paper/helpful.jsonl: no rows \(an empty"):
        read_prompt_set(path)


def test_the_fix_is_a_command_to_paste_with_the_run_s_config_files(run, monkeypatch):
    monkeypatch.setenv("HHALIGN_CONFIGFILES", "presets/tiny.yaml")
    edit_csv(run / "scores/paper/sft/harmful.csv", lambda rows: rows.pop())
    path = run / "scores/paper/sft/harmful.csv"
    assert stops(run).endswith(
        f"Fix: snakemake {path} --configfile presets/tiny.yaml --forcerun score_responses"
    )


def test_each_file_is_named_relative_to_results_dir_with_the_rule_that_writes_it():
    cases = {
        "results/prompts/paper/harmful.jsonl": "select_prompts",
        "results/tiny/generations/corrected/sft/helpful.jsonl": "generate_responses",
        "results/tiny/generations/corrected/chosen/helpful.jsonl": "write_chosen_responses",
        "results/scores/paper/sft_seed1/harmful.csv": "score_responses",
        "results/scores/paper/chosen/harmful.csv": "score_responses",
        "results/scores/judges/chat/paper/dpo/harmful.csv": "score_with_judge",
        "results/audit/scores/paper/dpo/harmful.csv": "import_audit_scores",
    }
    for path, rule in cases.items():
        assert writer(path) == rule, path
    assert writer("r/scores/judges/g/paper/dpo/harmful.csv", guard=True) == "score_with_guard"
    assert relative("results/tiny/scores/paper/sft/harmful.csv") == "scores/paper/sft/harmful.csv"
    assert relative("results/audit/scores/paper/sft/harmful.csv").startswith("audit/scores/")


# The entry scripts that read a prompt, generation or score file, and the reader they use.
CONSUMERS = {
    "generate_responses.py": "read_prompts",
    "write_chosen_responses.py": "read_prompts",
    "score_responses.py": "read_generations",
    "score_with_judge.py": "read_generations",
    "make_tables.py": "read_score_files",
    "plot_figures.py": "read_score_files",
    "make_claims.py": "read_score_files",
    "compare_judges.py": "read_judged_files",
    "compute_win_rates.py": "read_judged_files",
}


def test_every_consumer_reads_through_a_checked_reader():
    """No entry script computes on a prompt, generation or score file it has not checked:
    each imports its reader from hhalign.readers, none the unchecked ones of hhalign.io."""
    for script, reader in CONSUMERS.items():
        tree = ast.parse((ROOT / "scripts" / script).read_text())
        imported = {
            (node.module, alias.name)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert ("hhalign.readers", reader) in imported, script
        unchecked = {name for module, name in imported if module == "hhalign.io"}
        assert not unchecked & {"read_jsonl", "read_scores"}, script
