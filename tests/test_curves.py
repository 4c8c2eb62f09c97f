"""Training curves and the data figure: the authors' logs read from their notebook or a CSV,
our log histories, both drawn."""

import json

import pandas as pd
import pytest

from hhalign.curves import authors_logs, figure5_training, figure6_data, history_frame

TABLE = (
    "<progress value='{n}' max='{n}'></progress>[{n}/{n}]<table border=\"1\" class=\"dataframe\">"
    "<thead><tr><th>Step</th><th>Training Loss</th></tr></thead><tbody>{rows}</tbody></table>"
)


def notebook(runs: dict[str, list[tuple[int, float]]]) -> str:
    """A notebook whose Trainer outputs are laid out as the authors' main.ipynb's."""
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": ["hi"]}]}]
    for points in runs.values():
        rows = "".join(f"<tr>\n <td>{s}</td>\n <td>{v:.6f}</td>\n</tr>" for s, v in points)
        html = TABLE.format(n=points[-1][0], rows=rows)
        cells.append(
            {
                "cell_type": "code",
                "outputs": [{"output_type": "display_data", "data": {"text/html": [html]}}],
            }
        )
    return json.dumps({"cells": cells})


def test_the_authors_logs_are_read_from_their_notebook_in_order():
    runs = {"sft": [(100, 2.16), (200, 2.13)], "dpo": [(100, 0.69)], "sft_dpo": [(100, 0.68)]}
    logs = authors_logs(notebook(runs), "main.ipynb")
    assert logs.groupby("run", sort=False)["step"].apply(list).to_dict() == {
        "sft": [100, 200],
        "dpo": [100],
        "sft_dpo": [100],
    }
    assert logs["loss"].tolist() == pytest.approx([2.16, 2.13, 0.69, 0.68])
    with pytest.raises(ValueError, match="expected 3 training tables"):
        authors_logs(notebook({"sft": [(100, 2.0)]}), "main.ipynb")
    with pytest.raises(ValueError, match="expected run, step, loss"):
        authors_logs("a,b\n1,2\n", "logs.csv")


@pytest.mark.realdata
def test_the_released_training_logs_load_and_draw(tmp_path):
    from support import SHARED

    path = SHARED / "paper-release" / "train_logs.csv"
    if not path.is_file():
        pytest.skip(f"released training logs not available at {path}")
    logs = authors_logs(path.read_text(), path.name)
    assert logs.groupby("run")["step"].max().to_dict() == {
        "dpo": 20100,
        "sft": 40200,
        "sft_dpo": 20100,
    }
    history = pd.DataFrame(
        {
            "protocol": "paper",
            "run": "sft",
            "variant": "sft",
            "step": [1, 2, 3],
            "loss": [3.0, 2.0, 1.5],
        }
    )
    paths = figure5_training(history, logs, tmp_path / "fig5", "")
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_histories_drop_the_final_summary_and_the_figures_draw(tmp_path):
    entries = [
        {"step": 1, "loss": 2.0},
        {"step": 2, "loss": 1.0, "rewards/accuracies": 0.7},
        {"step": 2, "train_loss": 1.5, "train_runtime": 3.0},
    ]
    (tmp_path / "h.json").write_text(json.dumps(entries))
    history = history_frame({("paper", "dpo_seed7"): str(tmp_path / "h.json")})
    assert len(history) == 2 and set(history["variant"]) == {"dpo"}
    assert figure5_training(history, None, tmp_path / "fig5", "a label")[1].is_file()
    data = {
        "rows_in": 10,
        "sft_rows": 9,
        "dpo_rows": 8,
        "sft_rejects": {"empty_completion": 1},
        "dpo_rejects": {"empty_completion": 1, "prompt_mismatch": 1},
    }
    prompts = {
        "paper": {
            "harmful_rows_in": 30,
            "harmful_candidates": 12,
            "harmful_out": 5,
            "helpful_out": 5,
        }
    }
    assert figure6_data(data, prompts, tmp_path / "fig6")[1].stat().st_size > 10_000
