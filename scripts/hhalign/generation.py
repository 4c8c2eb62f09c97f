"""Greedy generation, batched with left padding, and the two response-extraction rules.

paper (the authors' notebook): decode the whole output sequence with special
tokens skipped, cut off ``len(prompt)`` characters, strip.

corrected: decode only the generated tokens, and end the response at the
first "\\n\\nHuman:": the model starting the user's next turn is not part of
its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig

from hhalign.batching import length_order
from hhalign.dialogue import HUMAN, to_messages
from hhalign.models import check_length


@dataclass(frozen=True)
class Generated:
    """One prompt's output: the new token ids (pads removed) and why generation stopped."""

    prompt_ids: list[int]
    new_ids: list[int]
    stopped_at_eos: bool
    hit_token_limit: bool


def stop_ids(model: torch.nn.Module, tokenizer) -> list[int]:
    """Every token that ends a response: the model's own stop tokens (its generation
    config's ``eos_token_id``, one id or several, e.g. an instruct model's end-of-turn) and
    the tokenizer's EOS, in that order, without repeats."""
    ids: list[int] = []
    for source in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        for i in source if isinstance(source, list | tuple) else [source]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids


def greedy_config(tokenizer, max_new_tokens: int, stops: list[int] | None = None):
    """Greedy decoding, stated in full so no model's generation_config.json changes it;
    generation stops at any of ``stops`` (default: the tokenizer's EOS)."""
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        repetition_penalty=1.0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=stops or tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )


def _trim(new: list[int], stops: list[int], pad: int, limit: int) -> tuple[list[int], bool, bool]:
    """Cut at the first stop token (kept) and drop padding; report (ids, at a stop token,
    at the token limit)."""
    at = [new.index(s) for s in stops if s in new]
    if at:
        return new[: min(at) + 1], True, False
    while new and new[-1] == pad and pad not in stops:
        new = new[:-1]
    return new, False, len(new) >= limit


@torch.inference_mode()
def generate(
    model: torch.nn.Module,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int,
    progress: bool = False,
    add_special_tokens: bool = True,
) -> list[Generated]:
    """Greedy continuations of ``prompts``, in input order.

    Prompts are sorted by length (longest first) and batched with left padding,
    so little compute goes to padding; OPT derives positions from the attention
    mask, so left padding does not change the result.
    """
    tokenizer.padding_side = "left"
    stops = stop_ids(model, tokenizer)
    config = greedy_config(tokenizer, max_new_tokens, stops)
    encoded = tokenizer(prompts, add_special_tokens=add_special_tokens)["input_ids"]
    longest = max((len(ids) for ids in encoded), default=0)
    check_length(
        model,
        longest + max_new_tokens,
        "generation.max_new_tokens",
        f" (the longest prompt, {longest} tokens, plus {max_new_tokens} new)",
    )
    order = length_order([len(ids) for ids in encoded])
    device = next(model.parameters()).device
    model.eval()
    out: list[Generated | None] = [None] * len(prompts)
    for start in tqdm(range(0, len(order), batch_size), desc="generating", disable=not progress):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt")
        batch = batch.to(device)
        seqs = model.generate(**batch, generation_config=config)
        width = batch["input_ids"].shape[1]
        for row, i in enumerate(idx):
            new, eos, limit = _trim(
                seqs[row, width:].tolist(),
                stops,
                tokenizer.pad_token_id,
                max_new_tokens,
            )
            out[i] = Generated(encoded[i], new, eos, limit)
    return out  # type: ignore[return-value]


def extract_paper(tokenizer, generated: Generated, prompt: str) -> tuple[str, bool]:
    """The authors' extraction: decode everything, drop ``len(prompt)`` characters, strip."""
    text = tokenizer.decode(generated.prompt_ids + generated.new_ids, skip_special_tokens=True)
    return text[len(prompt) :].strip(), False


def extract_corrected(tokenizer, generated: Generated) -> tuple[str, bool]:
    """Decode only the new tokens; stop at the model's own "\\n\\nHuman:" turn.

    Returns (response, whether it was cut at a Human turn).
    """
    text = tokenizer.decode(generated.new_ids, skip_special_tokens=True)
    cut = text.find(HUMAN)
    if cut >= 0:
        return text[:cut].strip(), True
    return text.strip(), False


def response_rows(
    tokenizer, prompts: list[dict], outputs: list[Generated], extraction: str
) -> list[dict]:
    """One output row per prompt: id, prompt, response and how generation ended."""
    rows = []
    for p, g in zip(prompts, outputs, strict=True):
        if extraction == "paper":
            response, cut = extract_paper(tokenizer, g, p["prompt"])
        elif extraction == "corrected":
            response, cut = extract_corrected(tokenizer, g)
        else:
            raise ValueError(f"unknown generation.extraction {extraction!r}")
        rows.append(
            {
                "id": p["id"],
                "prompt": p["prompt"],
                "response": response,
                "new_tokens": len(g.new_ids),
                "stopped_at_eos": g.stopped_at_eos,
                "cut_at_human": cut,
                "hit_token_limit": g.hit_token_limit,
            }
        )
    return rows


def render_chat(tokenizer, prompt: str) -> str:
    """An HH prompt rendered by the model's own chat template (no system prompt), ending
    with the template's cue for the assistant's turn."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"generation.prompt_rendering is chat_template but the tokenizer of "
            f"{tokenizer.name_or_path!r} has no chat template. Fix: prompt_rendering: raw"
        )
    return tokenizer.apply_chat_template(
        to_messages(prompt), add_generation_prompt=True, tokenize=False
    )


def respond(model, tokenizer, prompts: list[dict], cfg: dict, progress: bool = False) -> list[dict]:
    """Greedy responses to prompt rows under a ``generation`` config section.

    With ``prompt_rendering: chat_template`` the model reads each prompt through its chat
    template (the rendered text already holds the template's BOS, so none is added again);
    the rows keep the HH prompt, which is what the judge scores.
    """
    chat = cfg["prompt_rendering"] == "chat_template"
    texts = [render_chat(tokenizer, p["prompt"]) if chat else p["prompt"] for p in prompts]
    outputs = generate(
        model,
        tokenizer,
        texts,
        cfg["max_new_tokens"],
        cfg["batch_size"],
        progress=progress,
        add_special_tokens=not chat,
    )
    return response_rows(tokenizer, prompts, outputs, cfg["extraction"])


def summarize(rows: list[dict], max_new_tokens: int) -> str:
    """One log line on how generation ended for a set of response rows."""
    return (
        f"{len(rows)} responses; stopped at EOS {sum(r['stopped_at_eos'] for r in rows)}, "
        f"cut at a Human turn {sum(r['cut_at_human'] for r in rows)}, hit the "
        f"{max_new_tokens}-token limit {sum(r['hit_token_limit'] for r in rows)}, "
        f"empty {sum(not r['response'] for r in rows)}"
    )
