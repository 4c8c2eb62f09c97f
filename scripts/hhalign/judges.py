"""Several judges of the same responses: how each kind reads a (prompt, response), checked
before it reads any (``hhalign.agreement`` compares what they say).

Kinds (config ``judges``):
- ``pair``: a sequence classifier reading ``tokenizer(prompt, response)`` (the paper's
  OpenAssistant DeBERTa; ``hhalign.scoring``).
- ``chat``: a sequence-classification reward model reading the conversation rendered by its
  own chat template (no system prompt); the HH transcript becomes user/assistant messages.
- ``guard``: a generative safety classifier; its score is 1 - P(unsafe), P read from the
  label tokens' logits at the verdict position (softmax over the labels), never parsed from
  sampled text. It reads the harmful set only.
Every judge's score is "higher is better", so one threshold rule serves them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from hhalign.batching import length_order, token_batches
from hhalign.dialogue import to_messages
from hhalign.io import score_frame


class JudgeError(ValueError):
    """A judge cannot read responses the way its config says; names the judge and the fix."""


def conversation(prompt: str, response: str) -> list[dict[str, str]]:
    """The HH prompt as messages plus the response as the last assistant turn. The paper
    protocol's prompts are stripped ("Human: ..." without the leading blank line the turn
    markers have): they are read as the transcript they were cut from."""
    transcript = prompt if prompt.startswith("\n\n") else "\n\n" + prompt.lstrip()
    return [*to_messages(transcript), {"role": "assistant", "content": response.strip()}]


def render(tokenizer, messages: list[dict], suffix: str = "") -> list[int]:
    """Token ids of ``messages`` through the tokenizer's chat template (plus ``suffix``),
    with a BOS the template writes and the tokenizer would add again kept once."""
    text = tokenizer.apply_chat_template(messages, tokenize=False) + suffix
    bos = tokenizer.bos_token
    doubled = bool(bos) and text.startswith(bos)
    return tokenizer(text, add_special_tokens=not doubled)["input_ids"]


def check_pair(name: str, tokenizer, guard: dict | None) -> None:
    """A pair judge needs a tokenizer that marks where the response starts (special tokens
    between a text pair)."""
    if tokenizer.num_special_tokens_to_add(pair=True) <= tokenizer.num_special_tokens_to_add():
        raise JudgeError(
            f"judge {name!r} (kind pair): its tokenizer joins a text pair with nothing "
            "between prompt and response, so the judge cannot tell them apart. Fix: kind "
            "chat for a reward model with a chat template, or another judge"
        )


def check_chat(name: str, tokenizer, guard: dict | None, kind: str = "chat") -> None:
    """A chat judge needs a chat template."""
    if not tokenizer.chat_template:
        raise JudgeError(
            f"judge {name!r} (kind {kind}): its tokenizer has no chat template. Fix: kind "
            "pair for a text-pair classifier, or a model whose tokenizer has one"
        )


def check_guard(name: str, tokenizer, guard: dict | None) -> None:
    """A guard needs a chat template and distinct first tokens for its labels."""
    check_chat(name, tokenizer, guard, "guard")
    label_ids(name, tokenizer, guard["labels"])
    missing = [u for u in guard["unsafe"] if u not in guard["labels"]]
    if missing:
        raise JudgeError(f"judge {name!r}: unsafe labels {missing} are not among its labels")


def check_tokenizer(name: str, kind: str, tokenizer, guard: dict | None = None) -> None:
    """Fail, naming the judge and the fix, when its tokenizer cannot do what ``kind`` needs."""
    if kind not in KINDS:
        raise JudgeError(f"judge {name!r}: unknown kind {kind!r}. Fix: one of {list(KINDS)}")
    KINDS[kind].check(name, tokenizer, guard)


def label_ids(name: str, tokenizer, labels: list[str]) -> list[int]:
    """The first token of each verdict label; they must differ to be told apart."""
    ids = [tokenizer(label, add_special_tokens=False)["input_ids"][:1] for label in labels]
    if any(not i for i in ids) or len({i[0] for i in ids}) < len(ids):
        raise JudgeError(
            f"judge {name!r}: its labels {labels} do not start with distinct tokens "
            f"({ids}). Fix: judges[].guard.labels as the model writes them after the prefix"
        )
    return [i[0] for i in ids]


def unsafe_probability(logits, ids: list[int], unsafe: list[int]):
    """P(unsafe verdict) per row of next-token ``logits`` [batch, vocab]: the softmax over
    the label tokens ``ids`` alone, summed over the positions ``unsafe`` of those labels."""
    import torch

    probs = torch.softmax(logits[:, ids].float(), dim=-1)
    return probs[:, unsafe].sum(dim=-1)


def run_batches(
    model,
    tokenizer,
    encoded: list[list[int]],
    read,
    batch_size: int,
    max_batch_tokens: int | None,
    progress: bool = False,
) -> list[float]:
    """``read(model output, attention mask)`` -> one float per row, over length-sorted,
    right-padded batches; returned in input order, a non-finite value an error."""
    import torch

    order = length_order([len(e) for e in encoded])
    device = next(model.parameters()).device
    out = [math.nan] * len(encoded)
    spans = token_batches([len(encoded[i]) for i in order], batch_size, max_batch_tokens)
    with torch.inference_mode():
        for start, end in tqdm(spans, desc="judging", disable=not progress):
            idx = order[start:end]
            batch = tokenizer.pad(
                {"input_ids": [encoded[i] for i in idx]},
                return_tensors="pt",
                padding_side="right",
            ).to(device)
            values = read(model(**batch), batch["attention_mask"]).cpu().tolist()
            for i, v in zip(idx, values, strict=True):
                if not math.isfinite(v):
                    raise FloatingPointError(f"judge gave {v} for row {i}")
                out[i] = v
    return out


def clip(ids: list[int], limit: int) -> tuple[list[int], bool]:
    """The last ``limit`` tokens (the response and verdict position are at the end)."""
    return (ids[-limit:], True) if len(ids) > limit else (ids, False)


def score_rows(
    model,
    tokenizer,
    kind: str,
    rows: list[dict],
    cfg: dict,
    guard: dict | None = None,
    progress: bool = False,
):
    """Score response rows with a chat or guard judge under a ``scoring`` config section;
    one table row per response, built as every judge's is (``io.score_frame``: with the
    ``sample`` index of sampled responses)."""
    import torch

    suffix = guard["prefix"] if kind == "guard" else ""
    clipped = [
        clip(render(tokenizer, conversation(r["prompt"], r["response"]), suffix), cfg["max_length"])
        for r in rows
    ]
    encoded = [ids for ids, _ in clipped]
    if kind == "chat":

        def read(output, mask):
            return output.logits[:, 0].float()
    else:
        ids = label_ids("guard", tokenizer, guard["labels"])
        unsafe = [guard["labels"].index(u) for u in guard["unsafe"]]

        def read(output, mask):
            last = output.logits[torch.arange(len(mask)), mask.sum(dim=1) - 1]
            return 1.0 - unsafe_probability(last, ids, unsafe)

    scores = run_batches(
        model, tokenizer, encoded, read, cfg["batch_size"], cfg["max_batch_tokens"], progress
    )
    return score_frame(rows, scores, [cut for _, cut in clipped])


def check_before_start(judge: dict, path: str, revision: str | None) -> bool:
    """Check a Hub or local judge's tokenizer for its kind at start-up, before any job
    runs, where it can be read without the network (local, or in the Hub cache). Returns
    whether it was checked; one the pipeline builds (tiny) is checked by its scoring job."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision, local_files_only=True)
    except OSError:
        return False
    check_tokenizer(judge["name"], judge["kind"], tokenizer, judge["guard"])
    return True


def check_plan_judges(plan) -> None:
    """Check every Hub or local extra judge of a run (``hhalign.plan.Plan``) at start-up; one
    the pipeline builds is checked by its scoring job."""
    for name, judge in plan.judges.items():
        if judge["model"]["source"] in ("hub", "local"):
            ref = plan.judge_start_ref(name)
            check_before_start(judge, ref.path, ref.revision)


def load_judge(judge: dict, ref: dict, dtype: str):
    """(model, tokenizer, device) of a judge, its tokenizer checked for its kind before any
    response is read."""
    from hhalign.models import load_for_inference  # imports torch: the plan reads KINDS

    model, tokenizer, device = load_for_inference(
        ref["path"], ref["revision"], KINDS[judge["kind"]].loads, ref["safetensors_only"], dtype
    )
    check_tokenizer(judge["name"], judge["kind"], tokenizer, judge["guard"])
    return model, tokenizer, device


def score_pair_judge(judge: dict, model, tokenizer, rows: list[dict], cfg: dict):
    """A pair judge scores as the paper's judge does (``scoring.score_table``)."""
    from hhalign.scoring import score_table  # imports torch: the plan reads KINDS

    return score_table(model, tokenizer, rows, cfg, True)


def score_template_judge(judge: dict, model, tokenizer, rows: list[dict], cfg: dict):
    """A chat or guard judge reads each response through its chat template."""
    return score_rows(model, tokenizer, judge["kind"], rows, cfg, judge["guard"], True)


def judge_rows(judge: dict, model, tokenizer, rows: list[dict], cfg: dict):
    """Score response rows with any kind of judge."""
    return KINDS[judge["kind"]].score(judge, model, tokenizer, rows, cfg)


@dataclass(frozen=True)
class Kind:
    """What a judge kind is: the model class it loads (``models.load_model``'s kind), the
    prompt sets it reads, whether rule train_judge can train it, whether it reads through a
    chat template, its tokenizer check and its scoring function. A new kind is a row here
    (and, for the tiny world, a tiny model of it in ``tiny.tiny_judge``)."""

    loads: str
    prompt_sets: tuple[str, ...]
    trainable: bool
    chat_template: bool
    check: Callable[[str, Any, dict | None], None]
    score: Callable[..., Any]


KINDS: dict[str, Kind] = {
    "pair": Kind("reward", ("harmful", "helpful"), True, False, check_pair, score_pair_judge),
    "chat": Kind("reward", ("harmful", "helpful"), True, True, check_chat, score_template_judge),
    "guard": Kind("causal", ("harmful",), False, True, check_guard, score_template_judge),
}


def check_kinds(judges: list[dict]) -> None:
    """Refuse a judge the reward trainer cannot train (``train: true`` on a generative
    classifier), naming the judge and the fix."""
    for judge in judges[1:]:
        if judge["train"] and not KINDS[judge["kind"]].trainable:
            raise JudgeError(
                f"judge {judge['name']!r}: a {judge['kind']} judge is a generative classifier; "
                "the reward trainer cannot train it. Fix: train: false in its judges[] entry"
            )
