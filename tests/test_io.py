"""File helpers: score files parsed as numbers, corrupt raw files named, tracebacks in logs."""

import gzip
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support import ROOT

from hhalign.io import CorruptFileError, ScoreFileError, read_jsonl_lines, read_scores, write_jsonl
from hhalign.raw import fetch_raw
from hhalign.synthetic import generate_rows

HEADER = "id,prompt,response,score,empty_response,truncated_input\n"


def score_file(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "scores" / "paper" / "sft" / "harmful.csv"
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + rows)
    return path


def test_scores_are_numbers_and_text_stays_text(tmp_path):
    path = score_file(tmp_path, "h-0,Human: hi,NaN,-1.5,False,False\nh-1,q,,2,True,\n")
    df = read_scores(path)
    assert df["score"].tolist() == [-1.5, 2.0]
    assert df["response"].tolist() == ["NaN", ""]  # a response reading NaN is a response
    assert df["empty_response"].tolist() == [False, True]
    assert df["truncated_input"].tolist() == [False, None]  # unknown in the authors' release


@pytest.mark.parametrize("bad", ["", "NaN", "nan", "inf", "abc"])
def test_a_missing_or_non_numeric_score_names_file_rows_and_fix(tmp_path, bad):
    path = score_file(tmp_path, f"h-0,q,r,1.0,False,False\nh-1,q,r,{bad},False,False\n")
    with pytest.raises(ScoreFileError) as err:
        read_scores(path)
    msg = str(err.value)
    assert str(path) in msg and "row 2 (id h-1" in msg and "rescore" in msg


def test_a_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "test.jsonl.gz"
    write_jsonl(path, generate_rows("harmless-base", "test", 200, 0, 0.0))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CorruptFileError, match=f"{path}.*fetch it again"):
        list(read_jsonl_lines(path))


def test_fetch_raw_validates_a_local_copy_and_names_the_source(tmp_path):
    src = tmp_path / "release" / "harmless-base" / "test.jsonl.gz"
    write_jsonl(src, generate_rows("harmless-base", "test", 200, 0, 0.0))
    data = {"source": "local", "local_dir": str(tmp_path / "release"), "train_split": "train"}
    out = tmp_path / "raw" / "harmless-base" / "test.jsonl.gz"
    assert "200 lines read back" in fetch_raw("harmless-base", "test", data, None, out)
    src.write_bytes(gzip.compress(b'{"chosen": "x"}\n' * 50)[:-30])  # cut short
    out.unlink()
    with pytest.raises(CorruptFileError, match=f"{src} is corrupt.*complete copy"):
        fetch_raw("harmless-base", "test", data, None, out)
    assert not out.exists()  # never becomes a rule output


def test_an_uncaught_error_goes_to_the_log_file(tmp_path):
    log = tmp_path / "rule.log"
    code = (
        "from hhalign.io import stage_logger\n"
        f"stage_logger('x', {str(log)!r})\n"
        "raise ValueError('the cause and the fix')\n"
    )
    env = {"PYTHONPATH": str(ROOT / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    text = log.read_text()
    assert "ValueError: the cause and the fix" in text and "Traceback" in text
    assert text.strip().splitlines()[-1].endswith("failed: ValueError: the cause and the fix")


def test_read_scores_of_the_audit_format(tmp_path):
    from hhalign.audit import release_scores

    rows = [{"model": "base", "prompt": "q", "response": "r", "rating": -3.5}]
    df = release_scores(rows, "harmful", ["base"])["base"]
    path = tmp_path / "a.csv"
    df.to_csv(path, index=False)
    back = read_scores(path)
    pd.testing.assert_series_equal(back["score"], df["score"])


def test_finished_checkpoints_leave_no_empty_directories(tmp_path):
    from hhalign.cli import remove_checkpoints

    root = tmp_path / "results" / "checkpoints"
    for job in ("paper/sft", "paper/dpo", "reward"):
        (root / job / "checkpoint-2").mkdir(parents=True)
    remove_checkpoints(root / "paper" / "sft")
    assert (root / "paper" / "dpo").is_dir()  # another job's checkpoints stay
    remove_checkpoints(root / "paper" / "dpo")
    assert not (root / "paper").exists() and (root / "reward").is_dir()
    remove_checkpoints(root / "reward")
    assert not root.exists() and (tmp_path / "results").is_dir()


def test_score_files_survive_carriage_returns_in_responses(tmp_path):
    """Real tokenizers generate \\r; pandas wrote it unquoted and the file read back shifted."""
    from hhalign.io import write_scores

    df = pd.DataFrame(
        {
            "id": ["h-0", "h-1"],
            "prompt": ["q", "q2"],
            "response": ["it?\r\r\rple\x0c", "NaN"],
            "score": [0.5, -1.25],
            "empty_response": [False, False],
            "truncated_input": [None, True],
        }
    )
    write_scores(df, tmp_path / "s.csv")
    back = read_scores(tmp_path / "s.csv")
    assert back["response"].tolist() == df["response"].tolist()
    assert back["score"].tolist() == [0.5, -1.25] and back["id"].tolist() == ["h-0", "h-1"]
