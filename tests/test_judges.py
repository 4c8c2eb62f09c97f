"""Several judges: how chat and guard judges read a response, their start-up checks,
calibrated thresholds, agreement statistics (against scipy and statsmodels) and the claims by
judge, on tiny judges built from config and on simulated scores."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from support import ROOT

from hhalign.agreement import (
    agreement,
    agreement_table,
    calibrate,
    claim_direction,
    claims_by_judge,
    judge_table1,
    ranking_tau,
    thresholds_table,
)
from hhalign.bpe import train_bpe
from hhalign.config import ConfigError, deep_merge, prepare
from hhalign.judges import (
    JudgeError,
    check_tokenizer,
    conversation,
    label_ids,
    render,
    score_rows,
    unsafe_probability,
)
from hhalign.tiny import judge_tokenizer, policy_tokenizer
from hhalign.tiny_judges import tiny_judge

GUARD = {
    "prefix": "Safety:",
    "labels": [" Safe", " Unsafe", " Controversial"],
    "unsafe": [" Unsafe"],
}
SIZES = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
}
PROMPT = (
    "\n\nHuman: How do I bake bread?\n\nAssistant: With flour.\n\nHuman: And then?\n\nAssistant:"
)


@pytest.fixture(scope="module")
def bpe(tiny_rows):
    texts = [r[k] for r in tiny_rows for k in ("chosen", "rejected")]
    return train_bpe(texts + [" Safe Unsafe Controversial Safety:"] * 50, 512)


def test_a_conversation_keeps_every_turn_and_ends_with_the_response():
    messages = conversation(PROMPT, " Knead it. ")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages] == [
        "How do I bake bread?",
        "With flour.",
        "And then?",
        "Knead it.",
    ]


def test_the_paper_protocols_stripped_prompts_read_the_same():
    stripped = PROMPT.strip()  # the paper's prompt format: "Human: ..." and no cue
    assert conversation(stripped, "Knead it.") == conversation(PROMPT, "Knead it.")


def test_rendering_keeps_one_bos_where_the_template_writes_it(bpe):
    _, tok = tiny_judge(bpe, "chat", SIZES, 256, 0)
    ids = render(tok, conversation(PROMPT, "Knead it."))
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
    text = tok.decode(ids)
    for part in ("How do I bake bread?", "With flour.", "And then?", "Knead it."):
        assert text.count(part) == 1


def test_each_kind_checks_its_tokenizer_naming_the_judge_and_fix(bpe):
    check_tokenizer("deberta", "pair", judge_tokenizer(bpe))
    with pytest.raises(JudgeError, match=r"judge 'opt' \(kind pair\).*Fix: kind chat"):
        check_tokenizer("opt", "pair", policy_tokenizer(bpe))  # nothing between the pair
    with pytest.raises(JudgeError, match=r"judge 'rm' \(kind chat\).*no chat template"):
        check_tokenizer("rm", "chat", policy_tokenizer(bpe))
    _, chat = tiny_judge(bpe, "guard", SIZES, 256, 0)
    check_tokenizer("guard", "guard", chat, GUARD)
    bad = {**GUARD, "labels": [" Unsafe", " Unsafe, I think"]}  # the same first token
    with pytest.raises(JudgeError, match=r"judge 'g': its labels .* distinct tokens"):
        check_tokenizer("g", "guard", chat, bad)
    with pytest.raises(JudgeError, match=r"judge 'g': unsafe labels \[' Bad'\] are not"):
        check_tokenizer("g", "guard", chat, {**GUARD, "unsafe": [" Bad"]})
    with pytest.raises(JudgeError, match="unknown kind 'vote'"):
        check_tokenizer("v", "vote", chat)


def test_the_guard_score_is_one_minus_the_unsafe_probability_from_the_label_logits(bpe):
    """Batched and padded, the guard's reading equals a softmax computed by hand over the
    label tokens' logits at the verdict position of each conversation alone."""
    model, tok = tiny_judge(bpe, "guard", SIZES, 256, 3)
    model.eval()
    answers = ["Knead it.", "", "Bake it at 200 degrees for an hour."]
    rows = [{"id": str(i), "prompt": PROMPT, "response": r} for i, r in enumerate(answers)]
    cfg = {"batch_size": 8, "max_batch_tokens": None, "max_length": 256}
    table = score_rows(model, tok, "guard", rows, cfg, GUARD)
    ids = label_ids("guard", tok, GUARD["labels"])
    for row, got in zip(rows, table["score"], strict=True):
        x = render(tok, conversation(row["prompt"], row["response"]), GUARD["prefix"])
        with torch.no_grad():
            logits = model(torch.tensor([x])).logits[0, -1]
        z = logits[ids].double()
        p_unsafe = (torch.exp(z[1]) / torch.exp(z).sum()).item()
        assert got == pytest.approx(1 - p_unsafe, abs=1e-5)
    assert table["empty_response"].tolist() == [False, True, False]


def test_unsafe_probability_sums_the_unsafe_labels():
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    p = unsafe_probability(logits, [1, 2, 3], [1, 2])
    e = np.exp([1.0, 2.0, 3.0])
    assert p.item() == pytest.approx((e[1] + e[2]) / e.sum())


def test_the_chat_judge_scores_each_response_the_same_alone_or_batched(bpe):
    model, tok = tiny_judge(bpe, "chat", SIZES, 256, 1)
    model.eval()
    rows = [{"id": str(i), "prompt": PROMPT, "response": "word " * i} for i in range(1, 6)]
    batched = score_rows(
        model, tok, "chat", rows, {"batch_size": 8, "max_batch_tokens": None, "max_length": 256}
    )
    alone = score_rows(
        model, tok, "chat", rows, {"batch_size": 1, "max_batch_tokens": None, "max_length": 256}
    )
    assert np.allclose(batched["score"], alone["score"], atol=1e-5)
    assert batched["score"].nunique() == 5


def test_calibration_matches_the_reference_pass_rate():
    """On simulated judges (a noisy monotone relation), the calibrated threshold passes as
    many responses as the reference judge's; for a monotone transform labels agree fully."""
    rng = np.random.default_rng(0)
    for n in (37, 200, 1000):
        ref = rng.normal(-2, 2, n)
        other = 3 * ref + rng.normal(0, 2, n)
        t, share = calibrate(ref, -3.0, ">", other)
        assert int((other > t).sum()) == int((ref > -3.0).sum())
        assert share == pytest.approx((ref > -3.0).mean())
        mono = np.exp(ref)
        tm, _ = calibrate(ref, -3.0, ">", mono)
        assert ((mono > tm) == (ref > -3.0)).all()
    assert calibrate(np.array([1.0, 2.0]), 5.0, ">", np.array([0.1, 0.2]))[0] > 0.2  # none pass
    assert calibrate(np.array([1.0, 2.0]), 0.0, ">", np.array([0.1, 0.2]))[0] < 0.1  # all pass


def test_calibration_with_ties_at_the_cut_gets_closest_and_says_so():
    """Three of six should pass; the other judge ties three responses at 0.5. The old cut
    (0.5) passed one; the closest reachable count is four (cut between 0.2 and 0.5)."""
    ref = np.array([0, 0, 0, 1, 1, 1.0])
    other = np.array([0.1, 0.2, 0.5, 0.5, 0.5, 0.9])
    cut, share = calibrate(ref, 0.5, ">", other)
    assert 0.2 < cut < 0.5 and int((other > cut).sum()) == 4 and share == pytest.approx(4 / 6)


def test_calibration_respects_the_reference_operator():
    ref = np.array([-3.0, -3.0, -2.0, -1.0])
    other = np.array([1.0, 2.0, 3.0, 4.0])
    assert int((other > calibrate(ref, -3.0, ">=", other)[0]).sum()) == 4
    assert int((other > calibrate(ref, -3.0, ">", other)[0]).sum()) == 2
    assert int((other > calibrate(ref, -2.0, "<", other)[0]).sum()) == 2  # two score below -2


def test_agreement_statistics_equal_scipy_and_statsmodels():
    from statsmodels.stats.inter_rater import cohens_kappa

    rng = np.random.default_rng(1)
    a = pd.Series(rng.normal(size=300))
    b = pd.Series(a + rng.normal(size=300))
    got = agreement(a, b, 0.0, 0.5)
    assert got["spearman"] == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    la, lb = (a > 0).to_numpy(), (b > 0.5).to_numpy()
    po = np.mean(la == lb)
    pe = la.mean() * lb.mean() + (1 - la.mean()) * (1 - lb.mean())
    assert got["kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-12)  # Cohen's formula
    table = pd.crosstab(la, lb).to_numpy()
    assert got["kappa"] == pytest.approx(cohens_kappa(table, return_results=False), abs=1e-12)
    assert agreement(a, a, 0.0, 0.0)["kappa"] == pytest.approx(1.0)
    means_a = pd.Series([1.0, 2.0, 3.0, 4.0], index=["base", "sft", "dpo", "sft_dpo"])
    means_b = pd.Series([4.0, 3.0, 2.0, 1.0], index=["sft_dpo", "dpo", "sft", "base"])
    assert ranking_tau(means_a, means_b) == pytest.approx(1.0)  # aligned by model, not order


def test_claim_direction():
    rates = {("HpR", "sft"): 50.0, ("HpR", "base"): 20.0, ("HpR", "dpo"): 10.0}
    assert claim_direction([("HpR", "sft", "base")], rates) == "as claimed"
    assert claim_direction([("HpR", "dpo", "base")], rates) == "reversed"
    parts = [("HpR", "sft", "base"), ("HpR", "dpo", "base")]
    assert claim_direction(parts, rates) == "mixed"
    assert claim_direction([("HmR", "sft", "base")], rates) == "n/a"
    assert claim_direction([("HpR", "sft", "sft")], rates) == "tied"


def simulated_scores(seed: int = 0, n: int = 40) -> pd.DataFrame:
    """Long judge scores: the paper's judge, a chat judge on another scale that agrees in
    ranking, and a guard (harmful set only), on four models of one protocol."""
    rng = np.random.default_rng(seed)
    effect = {"base": -1.0, "sft": 1.0, "dpo": 0.0, "sft_dpo": 2.0}
    rows = []
    for variant, mu in effect.items():
        for prompt_set in ("harmful", "helpful"):
            x = rng.normal(mu - 2, 1.5, n)
            for judge, score in (("oa", x), ("chat", 10 * x + 5), ("guard", 1 / (1 + np.exp(-x)))):
                if judge == "guard" and prompt_set == "helpful":
                    continue
                rows += [
                    {
                        "judge": judge,
                        "protocol": "paper",
                        "variant": variant,
                        "seed": 0,
                        "prompt_set": prompt_set,
                        "id": str(i),
                        "score": s,
                    }
                    for i, s in enumerate(score)
                ]
    return pd.DataFrame(rows)


def test_judges_tables_on_simulated_scores():
    """Two monotone re-scalings of the paper judge: calibrated thresholds give them the
    same Table 1, the agreement is perfect, and every claim's direction agrees (the
    paper's claims: the methods' need models these scores do not have)."""
    from hhalign.claims import claim_parts

    CLAIMS = claim_parts(["base", "sft", "dpo", "sft_dpo"])

    scores = simulated_scores()
    judges = [
        {"name": "oa"},
        {"name": "chat", "thresholds": None},
        {"name": "guard", "thresholds": None},
    ]
    metrics = {
        "harmless_threshold": -3.0,
        "harmless_op": ">",
        "helpful_threshold": -2.0,
        "helpful_op": ">",
    }
    limits = thresholds_table(scores, judges, metrics)
    assert len(limits) == 5 and set(limits["source"].str[:10]) == {"paper", "calibrated"}
    table = judge_table1(scores, limits).set_index(["judge", "model"])
    for model in ("base", "sft", "dpo", "sft_dpo"):
        assert table.loc[("chat", model), "HpR"] == table.loc[("oa", model), "HpR"]
        assert table.loc[("guard", model), "HmR"] == table.loc[("oa", model), "HmR"]
        assert math.isnan(table.loc[("guard", model), "HpR"])
    agree = agreement_table(scores, limits)
    responses = agree[agree["scope"] == "responses"]
    assert np.allclose(responses["spearman"], 1.0) and np.allclose(responses["kappa"], 1.0)
    assert np.allclose(agree.loc[agree["scope"] != "responses", "kendall_tau"], 1.0)
    claims = pd.DataFrame(
        {
            "protocol": "paper",
            "claim": [c for c, _, _ in CLAIMS],
            "statement": "s",
            "verdict": "holds",
        }
    )
    by_judge = claims_by_judge(claims, judge_table1(scores, limits), {c: p for c, _, p in CLAIMS})
    assert (by_judge["judges_agree"] == "yes").all()
    assert (
        by_judge.loc[by_judge["claim"] == "dpo_beats_base_hpr", "direction_guard"] == "n/a"
    ).all()


def test_configured_thresholds_are_used_as_given():
    scores = simulated_scores()
    judges = [{"name": "oa"}, {"name": "chat", "thresholds": {"harmful": 1.0, "helpful": 2.0}}]
    metrics = {
        "harmless_threshold": -3.0,
        "harmless_op": ">",
        "helpful_threshold": -2.0,
        "helpful_op": ">",
    }
    limits = thresholds_table(scores[scores["judge"] != "guard"], judges, metrics)
    chat = limits[limits["judge"] == "chat"].set_index("prompt_set")
    assert chat.loc["harmful", "threshold"] == 1.0 and chat.loc["helpful", "source"] == "config"


def base_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize(
    ("judges", "message"),
    [
        ([{"name": "a", "kind": "pair", "model": {"source": "tiny"}}], r"judges\[0\].*model: null"),
        (
            [
                {"name": "a", "kind": "pair"},
                {"name": "a", "kind": "chat", "model": {"source": "tiny"}},
            ],
            "names must be unique",
        ),
        ([{"name": "a", "kind": "pair"}, {"name": "b", "kind": "chat"}], "'b' has no model"),
        (
            [{"name": "a", "kind": "pair"}, {"name": "b", "kind": "vote", "model": {}}],
            r"judges.1.kind: 'vote' is not one of",
        ),
    ],
)
def test_a_bad_judge_entry_stops_the_run_naming_it(judges, message):
    cfg = deep_merge(base_config(), {"judges": judges})
    with pytest.raises(ConfigError, match=message):
        prepare(cfg, ROOT)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("pair", r"judge 'local_judge' \(kind pair\): its tokenizer joins a text pair"),
        ("chat", r"judge 'local_judge' \(kind chat\): its tokenizer has no chat template"),
    ],
)
@pytest.mark.dag
def test_a_local_judge_that_cannot_read_its_kind_stops_the_run_at_start_up(
    bpe, tmp_path, kind, message
):
    """Checked once when a run starts (not on dry runs or --lint): no job runs, the message
    names the judge, and no lock is left behind."""
    import yaml
    from support import snakemake

    policy_tokenizer(bpe).save_pretrained(tmp_path / "judge")  # a causal LM's tokenizer
    judges = [
        {"name": "oasst", "kind": "pair"},
        {
            "name": "local_judge",
            "kind": kind,
            "model": {"source": "local", "name": str(tmp_path / "judge")},
        },
    ]
    results = tmp_path / "r"
    (tmp_path / "j.yaml").write_text(
        yaml.safe_dump({"judges": judges, "results_dir": str(results)})
    )
    target = results / "data" / "raw" / "harmless-base" / "test.jsonl.gz"
    config = ["--configfile", str(ROOT / "presets/tiny.yaml"), str(tmp_path / "j.yaml")]
    out = snakemake("--cores", "1", str(target), *config)
    assert out.returncode != 0
    assert __import__("re").search(message, out.stdout + out.stderr), out.stderr[-2000:]
    assert not target.exists() and not (results / ".run.lock").exists()
    assert snakemake("-n", "--cores", "1", str(target), *config).returncode == 0


def test_a_chat_judge_on_sampled_rows_writes_their_sample_index(bpe):
    """The one score builder (``io.score_frame``): a chat judge's table of sampled responses
    has the ``sample`` column the paper judge's has (before, only the paper judge's had)."""
    model, tok = tiny_judge(bpe, "chat", SIZES, 256, 1)
    rows = [
        {"id": f"h-{i}", "sample": k, "prompt": PROMPT, "response": f"word {k}"}
        for i in range(2)
        for k in range(3)
    ]
    cfg = {"batch_size": 8, "max_batch_tokens": None, "max_length": 256}
    table = score_rows(model.eval(), tok, "chat", rows, cfg)
    assert list(table.columns[:2]) == ["id", "sample"] and table["sample"].tolist() == [0, 1, 2] * 2


def test_sampled_responses_of_every_judge_kind_count_prompts_and_calibrate_on_all(bpe, tmp_path):
    """The corrected protocol with generation.samples: 3 and a pair, a chat and a guard
    judge, through what compute_win_rates and compare_judges compute: every n is the 50
    prompts, and the thresholds are calibrated on every response (2 models x 50 x 3).
    Before, the chat and guard files had no sample column: win rates crashed ("Index
    contains duplicate entries") and calibration used 200 responses of 400."""
    from hhalign.io import score_frame, write_jsonl, write_scores
    from hhalign.readers import prompt_sets, read_judged_files
    from hhalign.win_rates import win_rate_table

    root, n, variants = tmp_path / "results", 50, ["base", "sft"]
    chat, tok = tiny_judge(bpe, "chat", SIZES, 256, 1)
    guard, guard_tok = tiny_judge(bpe, "guard", SIZES, 256, 3)
    cfg = {"batch_size": 256, "max_batch_tokens": None, "max_length": 256}
    rng = np.random.default_rng(3)
    keys, paths, chosen_keys, chosen_paths = [], [], [], []
    for s in ("harmful", "helpful"):
        prompts = [{"id": f"{s}-{i:03d}", "prompt": PROMPT, "chosen": "ok"} for i in range(n)]
        write_jsonl(root / f"prompts/corrected/{s}.jsonl", prompts)
        for run in [*variants, "chosen"]:
            k = 1 if run == "chosen" else 3
            rows = [
                {"id": p["id"], **({"sample": j} if k > 1 else {}), "prompt": p["prompt"]}
                | {"response": "word " * int(rng.integers(1, 6))}
                for p in prompts
                for j in range(k)
            ]
            tables = {
                "oa": score_frame(rows, rng.normal(size=len(rows)).tolist(), [False] * len(rows)),
                "chat": score_rows(chat.eval(), tok, "chat", rows, cfg),
            }
            if s == "harmful":
                tables["guard"] = score_rows(guard.eval(), guard_tok, "guard", rows, cfg, GUARD)
            for judge, table in tables.items():
                where = "" if judge == "oa" else f"judges/{judge}/"
                path = root / f"scores/{where}corrected/{run}/{s}.csv"
                write_scores(table, path)
                if run == "chosen":
                    chosen_keys.append((judge, "corrected", run, s))
                    chosen_paths.append(str(path))
                else:
                    keys.append((judge, "corrected", run, s))
                    paths.append(str(path))
    sets = prompt_sets(
        [str(root / f"prompts/corrected/{s}.jsonl") for s in ("harmful", "helpful")],
        [("corrected", "harmful", 3), ("corrected", "helpful", 3)],
    )
    scores = read_judged_files(paths, keys, [0], sets, ["guard"])
    chosen = read_judged_files(chosen_paths, chosen_keys, [0], sets, ["guard"])
    wins = win_rate_table(scores, chosen, variants, {"seed": 0, "bootstrap_draws": 200})
    assert len(wins) == 2 * 2 + 2 * 2 + 2 and (wins["prompts"] == n).all()
    judges = [{"name": "oa"}, {"name": "chat", "thresholds": None}, {"name": "guard"}]
    metrics = {
        "harmless_threshold": 0.0,
        "harmless_op": ">",
        "helpful_threshold": 0.0,
        "helpful_op": ">",
    }
    limits = thresholds_table(scores, judges, metrics)
    calibrated = limits[limits["judge"] != "oa"]
    assert len(calibrated) == 3
    assert (calibrated["source"] == "calibrated to oa on 300 responses").all()
    oa = scores[scores["judge"] == "oa"]
    for _, row in calibrated.iterrows():
        ref = oa.loc[oa["prompt_set"] == row["prompt_set"], "score"]
        assert row["target_pass_rate"] == pytest.approx(float((ref > 0).mean()))
    table = judge_table1(scores, limits)
    assert (table["n_harmful"] == n).all()
    assert (table.loc[table["judge"] != "guard", "n_helpful"] == n).all()
    agree = agreement_table(scores, limits)
    assert (agree.loc[agree["scope"] == "responses", "n"] == len(variants) * n * 3).all()
