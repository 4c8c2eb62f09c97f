"""The run plan (hhalign.plan), in milliseconds: who owns each stage, what an experiment
shares, the training histories, the judged files, the targets of each preset."""

import pytest
from support import plan_of

from hhalign.config import launch_command
from hhalign.plan import Plan, section_json


@pytest.fixture(scope="module")
def experiments() -> Plan:
    return plan_of("experiments.yaml")


def test_runs_and_score_keys_in_table_order():
    plan = plan_of(seeds=[1, 2])
    assert plan.runs() == [
        "base",
        "sft",
        "sft_seed2",
        "dpo",
        "dpo_seed2",
        "sft_dpo",
        "sft_dpo_seed2",
    ]
    keys = plan.score_keys()
    assert keys[:3] == [
        ("paper", "base", "harmful"),
        ("paper", "base", "helpful"),
        ("paper", "sft", "harmful"),
    ]
    assert len(keys) == 2 * 7 * 2


def test_an_experiment_owns_its_dpo_and_shares_the_rest(experiments):
    plan = experiments
    for exp in ("dpo_ipo", "dpo_clean", "dpo_full"):
        assert plan.owner(exp, plan.train_key, "sft") == "corrected"
        assert plan.owner(exp, plan.train_key, "dpo") == exp
        assert plan.owner(exp, plan.train_key, "sft_dpo") == exp
        assert plan.owner(exp, plan.evaluation_key, "base") == "corrected"
        assert plan.prompts_dir(exp) == "R/prompts/corrected"
        assert plan.start_ref(exp, "sft_dpo").path == "R/models/corrected/sft"
    assert plan.owner("paper_dpo_2ep", plan.train_key, "sft") == "paper"
    assert plan.experiments == [
        "paper_dpo_2ep",
        "dpo_ipo",
        "dpo_hinge",
        "dpo_robust",
        "dpo_sigmoid_norm",
        "dpo_full",
        "dpo_clean",
    ]


def test_every_experiment_keeps_its_training_curves(experiments):
    """The old loop rebound its protocol variable once an experiment's SFT resolved to its
    parent's, so each experiment's DPO and SFT+DPO histories were looked up under the
    parent: Figure 5 lost every experiment's curves."""
    histories = experiments.training_histories()
    for exp in experiments.experiments:
        for run in ("dpo", "sft_dpo"):
            assert histories[(exp, run)] == f"R/train/{exp}/{run}/log_history.json"
        assert (exp, "sft") not in histories
    assert len(histories) == 2 * 3 + 7 * 2  # paper, corrected: 3 each; experiments: 2 each
    assert len(set(histories.values())) == len(histories)


def test_the_trained_judge_and_the_judged_files():
    plan = plan_of("tiny.yaml")
    histories = plan.training_histories()
    assert histories[("all", "reward")] == "R/train/reward/log_history.json"
    assert histories[("judges", "tiny_chat")] == "R/train/judges/tiny_chat/log_history.json"
    keys, paths = plan.judged_files()
    n = len(plan.score_keys())
    assert len(keys) == len(paths) == 2 * n  # the paper's judge, then the chat judge
    assert [k[0] for k in keys] == ["tiny_rm"] * n + ["tiny_chat"] * n
    assert paths[0] == "R/scores/paper/base/harmful.csv"
    assert paths[n] == "R/scores/judges/tiny_chat/paper/base/harmful.csv"
    assert plan.judge_sets("tiny_chat") == ["harmful", "helpful"]


def test_a_guard_reads_the_harmful_set_alone():
    guard = {"name": "g", "kind": "guard", "model": {"source": "tiny"}}
    plan = plan_of("tiny.yaml", judges=[*plan_of("tiny.yaml").config["judges"], guard])
    assert plan.judge_sets("g") == ["harmful"]
    keys, _ = plan.judged_files()
    assert {k[3] for k in keys if k[0] == "g"} == {"harmful"}


@pytest.mark.parametrize(
    ("presets", "trained", "judge_files"),
    [
        ((), 6, 0),
        (("tiny.yaml",), 6, 9),
        (("experiments.yaml",), 6 + 14, 0),
        (("ladder.yaml",), 6 + 9, 0),
        (("seeds.yaml",), 15, 0),
    ],
)
def test_targets_of_each_preset(presets, trained, judge_files):
    plan = plan_of(*presets)
    targets = plan.default_targets()
    summaries = [t for t in targets if t.startswith("R/train/") and t.endswith("summary.json")]
    assert len(summaries) == trained
    assert sum(t.startswith("R/judges/") or "fig7" in t for t in targets) == judge_files
    assert "R/manifest.json" in targets and "R/claims.csv" in targets
    assert len(targets) == len(set(targets))
    report = plan.report_targets()
    assert set(targets) < set(report) and "R/figures/fig5_training.png" in report


def test_a_ladder_rung_builds_its_own_tiny_policy():
    plan = plan_of("tiny.yaml", "ladder.yaml")
    assert plan.tiny_policy_dir("corrected") == "R/models/tiny/policy"
    assert plan.tiny_policy_dir("pythia-410m") == "R/models/tiny/policy_pythia-410m"
    assert plan.owner("pythia-410m", plan.train_key, "sft") == "pythia-410m"


def test_switches_that_are_off_leave_the_section_as_it_was():
    assert section_json({"a": 1, "torch_compile": False, "pad_to_multiple_of": None}) == '{"a": 1}'
    assert '"torch_compile": true' in section_json({"torch_compile": True})


def test_the_launcher():
    train = {"launcher": "python", "num_processes": None, "accelerate_args": ""}
    assert launch_command("py", train, 1) == "py"
    accel = {**train, "launcher": "accelerate", "accelerate_args": "--multi_gpu"}
    assert launch_command("py", accel, 4).startswith("py -m accelerate.commands.launch")
    assert "--num_processes 4 --num_machines 1 --multi_gpu" in launch_command("py", accel, 4)
    assert "--num_processes 2" in launch_command("py", {**accel, "num_processes": 2}, 4)


def test_raw_files_and_the_audit():
    plan = plan_of()
    assert ("harmless-base", "test") in plan.raw_file_keys()
    assert plan.train_raw_files()[0] == "R/data/raw/harmless-base/train.jsonl.gz"
    assert plan.report_keys(plan.audit) == plan.score_keys(["paper"], [plan.seeds[0]])
    assert plan.run_label(plan.audit) == ""
    assert plan.score_path(plan.audit, "paper", "sft", "harmful") == (
        "R/audit/scores/paper/sft/harmful.csv"
    )


def test_the_chosen_answers_are_scored_once_per_prompt_set_and_judge(experiments):
    keys, paths = plan_of("tiny.yaml").chosen_files()
    assert len(keys) == 2 * 2 * 2  # judges x protocols x prompt sets
    assert paths[0] == "R/scores/paper/chosen/harmful.csv"
    assert paths[4] == "R/scores/judges/tiny_chat/paper/chosen/harmful.csv"
    assert plan_of("tiny.yaml").chosen_files("tiny_rm")[0] == keys[:4]
    _, paths = experiments.chosen_files()
    keys = experiments.chosen_files()[0]
    mine = dict(zip(keys, paths, strict=True))
    first = experiments.config["judges"][0]["name"]
    # An experiment shares its parent's prompts and judge, so their scores too.
    assert mine[(first, "dpo_ipo", "harmful")] == "R/scores/corrected/chosen/harmful.csv"
    assert "R/win_rates.csv" in experiments.default_targets()


def test_label_rules_are_off_without_labels():
    """Without config labels no label-dependent output is a target (a normal run's DAG is
    unchanged); the sheet is never a default target (make label builds it)."""
    off = plan_of("tiny.yaml").default_targets()
    assert not [t for t in off if "/labels/" in t or "_corrected" in t or "labels." in t]
    on = plan_of("tiny.yaml", labels="my_labels.csv").default_targets()
    assert set(Plan.labelled_files("R").values()) <= set(on)
    assert "R/table1_corrected.csv" in on and "R/labels/sheet.html" not in on
