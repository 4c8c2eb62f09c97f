"""Model cards: what the data were, and the intervals their table promises."""

import pandas as pd

from hhalign.cards import dataset, metadata, with_intervals

SPEC = {"source": "tiny", "name": "facebook/opt-350m"}


def test_a_synthetic_run_names_no_hub_dataset():
    """The tiny run's cards said `datasets: Anthropic/hh-rlhf` for synthetic data."""
    meta = metadata(SPEC, "results/tiny/models/tiny/policy", "sft", "paper", "tiny", "synthetic")
    assert "datasets" not in meta and "synthetic-data" in meta["tags"]
    assert "not Anthropic/hh-rlhf" in dataset("synthetic")
    real = metadata({"source": "hub", "name": "facebook/opt-350m"}, "", "sft", "paper", "", "hub")
    assert real["datasets"] == ["Anthropic/hh-rlhf"] and dataset("hub") == "Anthropic/hh-rlhf"


def test_the_table_shows_the_95_percent_intervals_it_promises():
    rows = pd.DataFrame(
        [
            {"protocol": "paper", "model": "sft", "seed": "42", "n_harmful": 50}
            | {m: 50.0 for m in ("HmR", "HpR", "CAS")}
            | {f"{m}_lo": 36.6 for m in ("HmR", "HpR", "CAS")}
            | {f"{m}_hi": 63.4 for m in ("HmR", "HpR", "CAS")}
        ]
    )
    shown = with_intervals(rows)
    assert shown.loc[0, "HmR [95% CI]"] == "50.0 [36.6, 63.4]" and "n_harmful" in shown


def test_a_card_says_how_many_prompts_it_was_evaluated_on():
    """Before: every card said '50 + 50 prompts by one reward-model judge', typed."""
    import pandas as pd

    from hhalign.cards import prompt_counts, with_intervals

    rows = pd.DataFrame(
        [
            {"protocol": "paper", "model": "sft", "n_harmful": 12, "n_helpful": 12}
            | {f"{m}{s}": 50.0 for m in ("HmR", "HpR", "CAS") for s in ("", "_lo", "_hi")}
        ]
    )
    assert prompt_counts(with_intervals(rows)) == "12 + 12 prompts"
    assert prompt_counts(rows.drop(columns="n_helpful")) == "the run's harmful and helpful prompts"
