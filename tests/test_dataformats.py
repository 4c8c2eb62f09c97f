"""Your own data: TRL's preference format and PKU-SafeRLHF's two labels become the same
training rows as HH-RLHF's, and a file of the wrong shape stops saying what is expected."""

import gzip
import json

import pytest
import yaml
from support import ROOT

from hhalign.config import ConfigError, check_local_paths, validate_config
from hhalign.data import TooManyRejects, build_training_sets, check_reject_fraction
from hhalign.dataformats import (
    FormatError,
    detect_format,
    preference_pair,
    prompt_rows,
    string_prompt,
)
from hhalign.io import CorruptFileError, write_jsonl
from hhalign.prompts import PromptRules, select_prompts
from hhalign.synthetic import as_format, generate_rows

SUBSET = "harmless-base"  # the subset whose synthetic requests are harmful
PAIR = ["prompt", "chosen", "rejected"]


def synthetic_file(tmp_path, fmt, n=300, malformed=0.02):
    """One synthetic train file in ``fmt``: the same rows as the hh file, rewritten."""
    rows = as_format(generate_rows(SUBSET, "train", n, 0, malformed), fmt, f"0/{SUBSET}/train")
    path = tmp_path / f"{fmt}.jsonl.gz"
    write_jsonl(path, rows)
    return path


def build(path, fmt="hh", preference="helpful"):
    return build_training_sets([(SUBSET, "train", path)], fmt, preference)


def test_each_format_gives_the_hh_rows(tmp_path):
    """The synthetic preference file (its three styles: messages with a prompt, strings,
    messages with an implicit prompt) and the PKU file read by its safety label train on
    exactly the pairs the hh file does, except the deliberately broken rows."""
    hh = build(synthetic_file(tmp_path, "hh"))
    pairs = {r["row"]: tuple(r[k] for k in PAIR) for r in hh.dpo}
    for fmt, preference in (("preference", "helpful"), ("pku_saferlhf", "safe")):
        other = build(synthetic_file(tmp_path, fmt), fmt, preference)
        mine = {r["row"]: tuple(r[k] for k in PAIR) for r in other.dpo}
        assert mine == pairs, fmt
        assert other.conversion()["converted"] == other.rows_in == 300
        assert sum(other.reject_counts("dpo").values()) == sum(hh.reject_counts("dpo").values())


def test_the_three_pku_preferences_choose_and_count(tmp_path):
    path = synthetic_file(tmp_path, "pku_saferlhf")
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f]
    disagree = sum(r["better_response_id"] != r["safer_response_id"] for r in rows)
    assert 20 < disagree < 150  # the helpfulness raters prefer compliance on some requests
    helpful, safe, agree = (
        build(path, "pku_saferlhf", p) for p in ("helpful", "safe", "both_agree")
    )
    assert len(helpful.dpo) == len(safe.dpo) == len(agree.dpo) + disagree
    chosen = {r["row"]: r["chosen"] for r in safe.dpo}
    flipped = [r for r in helpful.dpo if chosen[r["row"]] != r["chosen"]]
    assert len(flipped) == disagree and all(chosen[r["row"]] == r["rejected"] for r in flipped)
    assert agree.conversion() == {
        "format": "pku_saferlhf",
        "preference": "both_agree",
        "rows_in": 300,
        "converted": 300 - disagree,
        "rejects": {"labels_disagree": disagree},
    }
    assert agree.reject_counts("sft")["labels_disagree"] == disagree
    reject = next(r for r in agree.rejects if r["reason"] == "labels_disagree")
    assert "both_agree keeps only the pairs whose two labels agree" in reject["detail"]
    # Filtered on purpose, not malformed: the 2% limit holds for the malformed rows alone.
    assert check_reject_fraction(agree, 0.02)["dpo"] < 0.02


def row_file(tmp_path, rows, name="mine.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PKU = {"prompt": "Hi?", "response_0": "a", "response_1": "b", "better_response_id": 0}
MALFORMED = {  # data.format, the file's first row, what the message must say
    "hh_file_of_pku_rows": (
        "hh",
        {**PKU, "safer_response_id": 1},
        ["no 'chosen', 'rejected' fields", "'response_0' (string)", "data.format: pku_saferlhf"],
    ),
    "hh_file_of_trl_rows": (
        "hh",
        {"prompt": "Hi?", "chosen": "Yes.", "rejected": "No."},
        ["the preference format's", "'prompt' (string)", "set data.format: preference"],
    ),
    "preference_missing_rejected": (
        "preference",
        {"prompt": "Hi?", "chosen": "Yes."},
        ["no 'rejected' field", "'chosen' (string)", "give every row 'chosen' and 'rejected'"],
    ),
    "preference_file_of_hh_rows": (
        "preference",
        {
            "chosen": "\n\nHuman: Hi?\n\nAssistant: Yes.",
            "rejected": "\n\nHuman: Hi?\n\nAssistant: No.",
        },
        ["the hh format's", "set data.format: hh"],
    ),
    "pku_missing_safer_label": (
        "pku_saferlhf",
        PKU,
        ["no 'safer_response_id' field", "'better_response_id' (number)", "give every row"],
    ),
    "pku_label_not_0_or_1": (
        "pku_saferlhf",
        {**PKU, "safer_response_id": "first"},
        ["'safer_response_id' must be 0 or 1", "'safer_response_id' (string)"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_file_of_the_wrong_shape_stops_at_its_first_row(tmp_path, case):
    """The line (blank lines counted), the fields looked for and found, and the fix."""
    fmt, row, says = MALFORMED[case]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(FormatError) as err:
        build(path, fmt, "both_agree")
    text = str(err.value)
    assert f"{path}: line 2: data.format={fmt} reads" in text
    for part in says:
        assert part in text, text


def test_a_stray_row_later_in_a_good_file_is_a_counted_reject_with_its_full_reason(tmp_path):
    good = {"prompt": "Hi?", "chosen": "Yes.", "rejected": "No."}
    path = row_file(tmp_path, [good] * 9 + [{"prompt": "Hi?", "chosen": "Yes."}])
    result = build(path, "preference")
    assert len(result.dpo) == 9
    (reject,) = [r for r in result.rejects if r["dataset"] == "dpo"]
    assert reject["reason"] == "missing_field"
    assert reject["detail"].startswith("missing_field: it has no 'rejected' field (data.format")
    with pytest.raises(TooManyRejects) as err:
        check_reject_fraction(result, 0.02, "logs/build_datasets_rejects.jsonl")
    text = str(err.value)
    assert "logs/build_datasets_rejects.jsonl" in text and "it has no 'rejected' field" in text
    assert "raise data.max_reject_fraction" not in text  # the rows lack the format's fields
    assert "fix those rows or data.format" in text


def test_too_many_rejects_of_the_right_shape_may_raise_the_limit(tmp_path):
    rows = [{"prompt": "Hi?", "chosen": "Yes.", "rejected": "No."}] * 8
    rows += [{"prompt": "Hi?", "chosen": "Same.", "rejected": "Same."}] * 2
    result = build(row_file(tmp_path, rows), "preference")
    with pytest.raises(TooManyRejects, match=r"raise data\.max_reject_fraction") as err:
        check_reject_fraction(result, 0.02)
    assert "'identical_chosen_rejected'" in str(err.value)


def test_a_truncated_file_of_each_format_names_its_rows(tmp_path):
    """A gzip cut short stops naming the file and the rows read; a plain file cut inside
    its last line gives that line as a counted invalid_json reject."""
    for fmt in ("hh", "preference", "pku_saferlhf"):
        path = synthetic_file(tmp_path, fmt, n=50, malformed=0)
        cut = tmp_path / f"{fmt}_cut.jsonl.gz"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(CorruptFileError, match=r"corrupt after \d+ rows.*Fix: delete it"):
            build(cut, fmt)
        with gzip.open(path, "rt") as f:
            text = f.read()
        plain = tmp_path / f"{fmt}_cut.jsonl"
        plain.write_text(text[: text.rstrip().rfind("\n") + 40])
        result = build(plain, fmt, "safe")
        assert result.rows_in == 50 and result.reject_counts("dpo")["invalid_json"] == 1


def test_trl_styles_read_with_trl_data_utils():
    """Strings with HH's markers stay a transcript; an implicit prompt is TRL's shared
    start; a system message has no HH turn (a counted reject)."""
    hh_prompt = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bread?\n\nAssistant:"
    assert string_prompt(hh_prompt) == hh_prompt
    assert string_prompt("Bread?") == "\n\nHuman: Bread?\n\nAssistant:"
    pair = preference_pair({"prompt": hh_prompt, "chosen": " Flour.", "rejected": " No."})
    assert pair["chosen"] == hh_prompt + " Flour."
    user = {"role": "user", "content": "Sky?"}
    implicit = {
        "chosen": [user, {"role": "assistant", "content": "Blue."}],
        "rejected": [user, {"role": "assistant", "content": "Green."}],
    }
    assert preference_pair(implicit) == {
        "chosen": "\n\nHuman: Sky?\n\nAssistant: Blue.",
        "rejected": "\n\nHuman: Sky?\n\nAssistant: Green.",
    }
    system = {"role": "system", "content": "Be nice."}
    with pytest.raises(ValueError, match="unsupported_role"):
        preference_pair({**implicit, "prompt": [system, user]})
    assert detect_format(implicit) == "preference"


def test_prompt_sets_from_a_plain_prompt_file_without_the_keyword_filter(tmp_path):
    harmful = [{"prompt": f"How do I hurt person {i}?"} for i in range(5)]
    helpful = [{"prompt": [{"role": "user", "content": f"Question {i}?"}]} for i in range(3)]
    rules = PromptRules((), "word", False, "human", "assistant_cue", 2, "match_harmful", 0)
    rows = [
        prompt_rows(r, "prompt", s, "f.jsonl", f"prompts.{s}.format")
        for r, s in ((harmful, "harmful"), ([*helpful[:2], {"text": "x"}], "helpful"))
    ]
    with pytest.raises(FormatError, match="no 'prompt' field"):
        prompt_rows(
            [{"text": "x"}],
            "prompt",
            "helpful",
            str(row_file(tmp_path, [{"text": "x"}])),
            "prompts.helpful.format",
        )
    got, got_helpful, rejects, n = select_prompts(
        rows[0], rows[1], rules, {"file": "h"}, {"file": "p"}
    )
    assert n == 5 and len(got) == 2 == len(got_helpful)  # every harmful row is a candidate
    assert [(r["set"], r["row"], r["reason"]) for r in rejects] == [("helpful", 2, "missing_field")]
    assert "it has no 'prompt' field" in rejects[0]["detail"]
    assert all(p["prompt"].endswith("\n\nAssistant:") and p["chosen"] == "" for p in got)
    assert got[0]["file"] == "h"


def test_a_pku_prompt_row_is_answered_by_its_safer_or_more_helpful_response():
    row = {
        **PKU,
        "response_0": "Sure, here is how.",
        "response_1": "I can't help.",
        "safer_response_id": 1,
    }
    (harmful,) = prompt_rows([row], "pku_saferlhf", "harmful", "f", "prompts.harmful.format")
    (helpful,) = prompt_rows([row], "pku_saferlhf", "helpful", "f", "prompts.helpful.format")
    assert harmful["chosen"].endswith("Assistant: I can't help.")
    assert helpful["chosen"].endswith("Assistant: Sure, here is how.")


def test_a_prompt_file_that_does_not_exist_stops_the_config_check(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["prompts"]["harmful"] = {"file": "nowhere.jsonl", "format": "prompt"}
    validate_config(config)
    with pytest.raises(ConfigError, match=r"prompts\.harmful\.file='nowhere\.jsonl'"):
        check_local_paths(config, tmp_path)
    (tmp_path / "nowhere.jsonl").write_text('{"prompt": "Hi?"}\n')
    check_local_paths(config, tmp_path)


def test_every_candidate_of_none_stops_instead_of_writing_an_empty_set():
    """n_harmful null with a keyword list that matches nothing (the corrected protocol's own
    list over a prompt file): the set was written empty and generation failed later."""
    rows = prompt_rows([{"prompt": "Bake bread?"}] * 3, "prompt", "harmful", "f", "k")
    rules = PromptRules(
        ("kill",), "word", False, "human", "assistant_cue", None, "match_harmful", 0
    )
    with pytest.raises(ValueError, match="cannot sample 0 harmful prompts from 0 candidates"):
        select_prompts(rows, rows, rules, {"file": "h"}, {"file": "p"})
