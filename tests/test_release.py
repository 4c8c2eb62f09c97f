"""The release check's comparisons: what they report for a faithful copy, for a changed
prompt, rating or response, and for a missing or malformed release file."""

import json
import random

import pandas as pd
import pytest
from support import SHARED, paper_metrics

from hhalign.audit import AuditSourceError
from hhalign.release import (
    ReleaseFormatError,
    compare_generations,
    compare_prompts,
    compare_ratings,
    first_difference,
    prefix_relation,
    rates_both_ways,
    read_prompts,
    read_responses,
    release_fix,
    sources,
)

PROMPTS = [f"Human: question {i}?" for i in range(5)]


def test_identical_prompts_and_one_changed():
    same = compare_prompts(PROMPTS, PROMPTS, "harmful")
    assert same["identical"].all() and (same["first_difference_at"] == -1).all()
    changed = [*PROMPTS[:3], "Human: question 3!", PROMPTS[4]]
    table = compare_prompts(changed, PROMPTS, "harmful")
    wrong = table[~table["identical"]]
    assert wrong["index"].tolist() == [3] and wrong["first_difference_at"].iloc[0] == 17
    assert "!" in wrong["ours"].iloc[0] and "?" in wrong["theirs"].iloc[0]


def test_a_smaller_sample_is_not_always_the_authors_first_n():
    """random.sample(192 candidates, k) with the authors' seed: the first k of their 50 only
    for k <= 6 and k >= 22 (Python switches its sampling algorithm at 22 here)."""
    pop = list(range(192))
    theirs = [str(x) for x in random.Random(100).sample(pop, 50)]
    relation = {
        k: prefix_relation([str(x) for x in random.Random(100).sample(pop, k)], theirs)
        for k in (5, 10, 21, 22, 30, 50)
    }
    assert relation[22] == "the authors' first 22 of 50" and relation[30].startswith(
        "the authors' first"
    )
    assert relation[10].startswith("not the authors' first 10")
    assert relation[21].startswith("not the authors' first 21")
    assert relation[50] == "identical to the authors' 50"


def test_ratings_within_tolerance_and_one_off_by_a_hundredth():
    released = pd.DataFrame(
        {
            "model": "base",
            "prompt_set": ["harmful"] * 2 + ["helpful"] * 2,
            "index": [0, 1, 0, 1],
            "rating": [-3.5, -2.0, -1.0, -2.5],
        }
    )
    ok = compare_ratings(released, pd.Series([-3.50004, -2.0, -1.0, -2.5]), paper_metrics(), 1e-3)
    assert ok["within_tolerance"].all() and ok["labels_agree"].all()
    off = compare_ratings(released, pd.Series([-3.5, -2.0, -1.01, -2.5]), paper_metrics(), 1e-3)
    assert off.loc[~off["within_tolerance"], ["prompt_set", "index"]].values.tolist() == [
        ["helpful", 0]
    ]
    flips = compare_ratings(released, pd.Series([-3.5, -3.01, -1.0, -2.5]), paper_metrics(), 1e-3)
    assert not flips["labels_agree"].iloc[1]  # -2.0 passes HmR (> -3), -3.01 does not
    table = rates_both_ways(flips, paper_metrics()).iloc[0]
    assert table["HmR_theirs"] == 50.0 and table["HmR_ours"] == 0.0


def test_generations_identical_and_one_changed():
    tokenize = str.split
    same = compare_generations(["a b c", ""], ["a b c", ""], tokenize, "harmful")
    assert same["identical"].all()
    diff = compare_generations(["a b c d", "x"], ["a b x d", "x"], tokenize, "harmful")
    row = diff[~diff["identical"]].iloc[0]
    assert row["index"] == 0 and row["first_difference_at"] == 4 and row["tokens_agreeing"] == 2
    assert first_difference("abc", "abcd") == 3


def test_missing_and_malformed_release_files_name_the_file_and_the_fix(tmp_path):
    """Each file named as the authors' repository names it, and a fix naming real keys
    (before: "Fix: set release.prompts_harmful", a key that does not exist)."""
    files = sources({"local_dir": str(tmp_path), "base_url": "", "commit": "c"})
    fix = "Fix: set release.local_dir to a complete copy of the authors' repository at release."
    with pytest.raises(AuditSourceError) as err:
        read_prompts(files["prompts_harmful"])
    assert "cannot read the release file data/prompts/harmful_prompts.json (" in str(err.value)
    assert "No such file or directory" in str(err.value) and fix in str(err.value)
    bad = tmp_path / "data" / "responses" / "1_base_harmful.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"prompt": 1')
    with pytest.raises(ReleaseFormatError, match=r"data/responses/1_base_harmful.json .* not JSON"):
        read_responses(str(bad))
    bad.write_text(json.dumps([{"prompt": "p", "response": "r"}]))
    with pytest.raises(ReleaseFormatError, match=r"not a JSON list of .prompt, response, rating"):
        read_responses(str(bad))
    bad.write_text(json.dumps({"prompts": []}))
    with pytest.raises(ReleaseFormatError, match="not a JSON list of prompt strings"):
        read_prompts(str(bad))
    url = "https://example.org/x/data/prompts/helpful_prompts.json"
    assert "release.base_url and release.commit" in release_fix(url)


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"])
def test_an_empty_release_file_is_called_empty(tmp_path, content):
    """Before: "is not JSON (Expecting value, line 1)"."""
    path = tmp_path / "data" / "prompts" / "harmful_prompts.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ReleaseFormatError) as err:
        read_prompts(str(path))
    assert str(err.value).startswith(
        f"the release file data/prompts/harmful_prompts.json ({path}) is empty. Fix: set "
        "release.local_dir"
    )


def test_a_failed_release_check_removes_the_summary_it_leaves_stale(tmp_path):
    """A check stage that fails removes the summary an earlier, passing run wrote (Snakemake
    removes the failed job's own outputs, not those after it): no old "pass" stays on disk."""
    import subprocess
    import sys

    from support import ROOT

    summary = tmp_path / "release_check" / "summary.md"
    summary.parent.mkdir()
    summary.write_text("| prompts (harmful) | ... | pass |\n")
    code = (
        "from hhalign.io import stage_logger\n"
        f"stage_logger('x', {str(tmp_path / 'x.log')!r}, (), [{str(summary)!r}])\n"
        "raise ValueError('the release file is empty')\n"
    )
    env = {"PYTHONPATH": str(ROOT / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and not summary.exists()
    log = (tmp_path / "x.log").read_text().strip().splitlines()
    assert f"removed {summary}" in "\n".join(log) and log[-1].endswith("the release file is empty")


def test_every_release_check_stage_names_the_summary_as_stale():
    """Each check rule hands its entry script the summary files (params.stale)."""
    from support import ROOT

    rules = (ROOT / "rules" / "release.smk").read_text()
    for rule in ("check_release_prompts", "check_release_judge", "check_release_generation"):
        body = rules.split(f"rule {rule}:")[1].split("\nrule ")[0]
        assert "stale=SUMMARY" in body, rule
        script = (ROOT / "scripts" / f"{rule}.py").read_text()
        assert "snakemake.params.stale" in script, rule


def test_sources_follow_the_pinned_commit_or_a_local_copy():
    cfg = {"commit": "abc", "base_url": "https://x/{commit}", "local_dir": None}
    files = sources(cfg)
    assert files["prompts_harmful"] == "https://x/abc/data/prompts/harmful_prompts.json"
    assert files["sft_dpo_helpful"] == "https://x/abc/data/responses/4_sftdpo_helpful.json"
    assert sources({**cfg, "local_dir": "/r"})["base_harmful"] == (
        "/r/data/responses/1_base_harmful.json"
    )


@pytest.mark.realdata
def test_the_paper_selection_on_the_real_split_is_the_authors_50(real_harmless_test):
    """Needs the authors' released harmful prompts beside the real split (a copy of their
    data/prompts/harmful_prompts.json in ../shared/data/paper-release); skips otherwise."""
    import yaml
    from support import ROOT

    from hhalign.config import protocol_view, validate_config
    from hhalign.io import read_jsonl
    from hhalign.prompts import PromptRules, select_prompts

    released = SHARED / "paper-release" / "harmful_prompts.json"
    if not released.is_file():
        pytest.skip(f"{released} absent: the release's prompt files are not in ../shared")
    cfg = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    rules = PromptRules.from_config(protocol_view(cfg, "paper")["prompts"])
    rows = read_jsonl(real_harmless_test)
    harmful = select_prompts(rows, rows, rules, {}, {})[0]
    table = compare_prompts([r["prompt"] for r in harmful], read_prompts(str(released)), "h")
    assert table["identical"].all()
