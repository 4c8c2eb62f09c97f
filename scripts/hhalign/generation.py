"""Greedy (or seeded sampled) generation, batched with left padding, and the two
response-extraction rules.

Sampling (config ``generation.samples`` > 1): each prompt gets ``samples`` responses, each
drawn with its own random stream, seeded from (``sample_seed``, prompt id, sample index)
(``sample_key``): temperature and top-p shape the next-token distribution, then the
Gumbel-max trick picks a token from it with that row's stream, one draw per step. A row's
draws do not depend on the rows it is batched with, so a batched sample equals the same
sample generated alone, and a rerun repeats it.

paper (the authors' notebook): decode the whole output sequence with special
tokens skipped, cut off ``len(prompt)`` characters, strip.

corrected: decode only the generated tokens, and end the response at the
first "\\n\\nHuman:": the model starting the user's next turn is not part of
its answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList
from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

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


def sample_key(seed: int, prompt_id: str, sample: int) -> int:
    """The random stream of one sampled response: a 63-bit hash of (seed, id, sample)."""
    digest = hashlib.sha256(f"{seed}:{prompt_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class SeededSampler(LogitsProcessor):
    """Samples each row's next token from its own generator (temperature, then top-p, then
    Gumbel-max) and leaves only that token possible, so greedy decoding takes it."""

    def __init__(self, keys: list[int], temperature: float, top_p: float):
        self.generators = [torch.Generator().manual_seed(k) for k in keys]
        self.warpers = [TemperatureLogitsWarper(temperature)] if temperature != 1.0 else []
        self.warpers += [TopPLogitsWarper(top_p)] if top_p < 1.0 else []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.Tensor:
        for warp in self.warpers:
            scores = warp(input_ids, scores)
        uniform = torch.stack(
            [torch.rand(scores.shape[1], generator=g, dtype=torch.float64) for g in self.generators]
        ).clamp_(min=1e-300)
        gumbel = -torch.log(-torch.log(uniform))
        picked = (scores.double().log_softmax(-1) + gumbel.to(scores.device)).argmax(-1)
        out = torch.full_like(scores, -float("inf"))
        out[torch.arange(len(picked)), picked] = 0.0
        return out


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
    sampling: tuple[list[int], float, float] | None = None,
) -> list[Generated]:
    """Greedy continuations of ``prompts``, in input order; with ``sampling`` = (one
    ``sample_key`` per prompt, temperature, top_p), sampled ones (``SeededSampler``).

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
        processors = None
        if sampling:
            keys, temperature, top_p = sampling
            processors = LogitsProcessorList(
                [SeededSampler([keys[i] for i in idx], temperature, top_p)]
            )
        seqs = model.generate(**batch, generation_config=config, logits_processor=processors)
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
    """One output row per prompt (and sample): id, prompt, response, how generation ended."""
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
                **({"sample": p["sample"]} if "sample" in p else {}),
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


def expand_samples(prompts: list[dict], samples: int) -> list[dict]:
    """Each prompt row ``samples`` times, with its sample index (unchanged for one)."""
    if samples == 1:
        return prompts
    return [{**p, "sample": j} for p in prompts for j in range(samples)]


def respond(model, tokenizer, prompts: list[dict], cfg: dict, progress: bool = False) -> list[dict]:
    """Greedy responses to prompt rows under a ``generation`` config section, or
    ``cfg["samples"]`` sampled ones per prompt (rows gain a ``sample`` index).

    With ``prompt_rendering: chat_template`` the model reads each prompt through its chat
    template (the rendered text already holds the template's BOS, so none is added again);
    the rows keep the HH prompt, which is what the judge scores.
    """
    chat = cfg["prompt_rendering"] == "chat_template"
    prompts = expand_samples(prompts, cfg.get("samples", 1))
    sampling = None
    if cfg.get("samples", 1) > 1:
        keys = [sample_key(cfg["sample_seed"], p["id"], p["sample"]) for p in prompts]
        sampling = (keys, cfg["temperature"], cfg["top_p"])
    texts = [render_chat(tokenizer, p["prompt"]) if chat else p["prompt"] for p in prompts]
    outputs = generate(
        model,
        tokenizer,
        texts,
        cfg["max_new_tokens"],
        cfg["batch_size"],
        progress=progress,
        add_special_tokens=not chat,
        sampling=sampling,
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
