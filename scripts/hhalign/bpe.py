"""The tiny world's byte-level BPE, trained with ``tokenizers`` alone.

Kept apart from ``tiny`` (the models) so that rule build_tiny_tokenizer imports neither
torch nor transformers: a job's imports cost seconds, its BPE a fraction of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer, Tokenizer
from tokenizers.implementations import BaseTokenizer

# Ids as in OPT's tokenizer: <s>=0, <pad>=1, </s>=2 (OPT's BOS and EOS), <unk>=3.
POLICY_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
JUDGE_SPECIALS = ["[CLS]", "[SEP]", "[MASK]"]


def train_bpe(texts: Iterable[str], vocab_size: int) -> ByteLevelBPETokenizer:
    """Train a byte-level BPE on ``texts``; the special tokens get the first ids."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=POLICY_SPECIALS + JUDGE_SPECIALS,
        show_progress=False,
    )
    return bpe


def save_bpe(bpe: BaseTokenizer, path: str | Path) -> None:
    """Write the trained BPE as one tokenizer JSON (rule build_tiny_tokenizer)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    bpe.save(str(path))


def load_bpe(path: str | Path) -> BaseTokenizer:
    """The BPE that ``save_bpe`` wrote, exactly (its JSON holds vocab, merges and specials)."""
    return BaseTokenizer(Tokenizer.from_file(str(path)))


def world_texts(rows: Iterable[dict]) -> list[str]:
    """The texts the tiny tokenizer is trained on: every chosen and rejected dialogue."""
    return [row[k] for row in rows for k in ("chosen", "rejected") if isinstance(row.get(k), str)]
