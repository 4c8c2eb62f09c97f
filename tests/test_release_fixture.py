"""The release check's offline fixture (release.fixture, the tiny preset): where the check
reads, what its summary says it compared with, and a copy the readers accept."""

import json
from pathlib import Path

import pandas as pd
from support import plan_of

from hhalign.release import prefix_relation, sources
from hhalign.release_fixture import describe, fixture_dir, fixture_files, resolve, write_fixture

RELEASE = {"commit": "868ecd0cc01edef0997265ac1039b26d0d9e4ca7", "base_url": "u/{commit}"}


def test_the_fixture_is_read_only_when_no_local_copy_is_configured():
    on = resolve({**RELEASE, "fixture": True, "local_dir": None}, "results/tiny")
    assert on["local_dir"] == fixture_dir("results/tiny") and on["fixture"]
    assert len(fixture_files(on)) == 10 and all("release_fixture" in f for f in fixture_files(on))
    mine = resolve({**RELEASE, "fixture": True, "local_dir": "/copy"}, "results/tiny")
    assert mine["local_dir"] == "/copy" and not mine["fixture"] and fixture_files(mine) == []
    off = resolve({**RELEASE, "fixture": False, "local_dir": None}, "results")
    assert off["local_dir"] is None and fixture_files(off) == []


def test_the_summary_says_what_it_compared_with():
    """It said "the authors' repository at 868ecd0cc01e" and "the authors' 50" for the
    fixture too."""
    title, whose = describe(resolve({**RELEASE, "fixture": True, "local_dir": None}, "r"))
    assert "fixture built from this run's own paper protocol" in title
    assert "not the authors' release" in title and whose == "the fixture's"
    assert prefix_relation(["a", "b"], ["a", "b"], whose) == "identical to the fixture's 2"
    title, whose = describe(resolve({**RELEASE, "local_dir": "/copy"}, "r"))
    assert title == "a local copy (/copy) of the authors' repository at 868ecd0cc01e"
    title, whose = describe(resolve({**RELEASE, "local_dir": None}, "r"))
    assert title == "the authors' repository at 868ecd0cc01e" and whose == "the authors'"


def test_a_written_fixture_reads_back_as_the_release(tmp_path):
    prompts = {"harmful": ["Human: a?", "Human: b?"], "helpful": ["Human: c?", "Human: d?"]}
    scores = {
        f"{m}_{s}": pd.DataFrame(
            {"prompt": prompts[s], "response": [f"{m} 1", ""], "score": [0.5, -1.25]}
        )
        for m in ("base", "sft", "dpo", "sft_dpo")
        for s in ("harmful", "helpful")
    }
    write_fixture(prompts, scores, str(tmp_path))
    files = sources({**RELEASE, "local_dir": str(tmp_path)})
    assert json.loads(Path(files["prompts_harmful"]).read_text()) == prompts["harmful"]
    rows = json.loads(Path(files["dpo_helpful"]).read_text())
    assert rows[1] == {"prompt": "Human: d?", "response": "", "rating": -1.25}


def test_the_tiny_preset_reads_its_fixture_and_the_paper_setup_the_authors_release():
    assert plan_of("tiny.yaml").config["release"]["fixture"] is True
    assert plan_of().config["release"]["fixture"] is False
