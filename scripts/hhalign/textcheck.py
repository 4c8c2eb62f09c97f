"""Detectors for how real model text fails: the response audit's text work.

Built on the authors' released OPT-350M responses (``tests/data/release_dev.csv``, labelled
against the definitions in ``docs/claims.md``), not on the tiny world alone:

- ``speaker_turns`` splits a response at speaker tags (``Human:``, ``Assistant:``, invented
  names such as ``Me:``, and a bare trailing ``Human`` at the cut-off);
- ``continues_dialogue``: the response goes beyond its own single reply;
- ``repetition_share``: how much of the response its worst loop covers (a unit 3 or more
  times, or a sentence or block of turns repeated straight away), counted in characters;
- ``echo_share``: how much of the response is a verbatim or near-verbatim copy of any text
  of the prompt (difflib's longest matches and rapidfuzz's partial ratio);
- ``is_non_text`` and ``is_refusal``.

Thresholds come from config ``response_audit`` (documented in the schema).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

SPEAKERS = ("Human", "Assistant")
TAG = re.compile(
    r"(?m)^[ \t]*(?P<name>[A-Z][a-z]{0,11})[ \t]*:(?=\s|$)"  # a tag opens a line
    r"|\n[ \t]*(?P<bare>Human|Assistant)[ \t]*\Z"  # or ends the text, cut off
)
TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
WORD = re.compile(r"\w+(?:'\w+)*")
ENDS = {".", "?", "!"}
CLOSERS = {'"', "'", ")", "]"}
URL = re.compile(r"https?://\S+|www\.\S+|<[^>]*>|&\w+;")
ARTEFACT = re.compile(
    r"\b\d[\d,.]*\s*[kKmM]?\s*(?:shares?|views?|likes?|comments?|points?|retweets?|followers?"
    r"|votes?|replies|reviews?|reads?)\b",
    re.IGNORECASE,
)
LANGUAGE = re.compile(r"[^\W\d_]{2,}|\b[aAI]\b")


def normalize(text: str) -> str:
    """Typographic quotes and apostrophes as ASCII, so copies match across both forms."""
    return text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'}))


@dataclass(frozen=True)
class Turn:
    """One stretch of a response: the speaker tag that opens it (None for text before any
    tag), where the tag starts, and where the turn's own text starts and ends."""

    speaker: str | None
    tag_start: int
    start: int
    end: int


def speaker_turns(response: str) -> list[Turn]:
    """The response cut at its speaker tags (a tag opens a line; a bare trailing ``Human``
    or ``Assistant`` at the end counts); the first turn is the text before any tag."""
    turns, speaker, tag_start, start = [], None, 0, 0
    for match in TAG.finditer(response):
        turns.append(Turn(speaker, tag_start, start, match.start()))
        speaker = match.group("name") or match.group("bare")
        tag_start, start = match.start(), match.end()
    turns.append(Turn(speaker, tag_start, start, len(response)))
    return turns


def prompt_shape(prompt: str) -> tuple[bool, bool, str]:
    """Whether the prompt ends inside an Assistant turn, whether its Assistant turns open
    with a ``Human:`` label (a format the model mimics), and the text of its last turn."""
    marks = list(re.finditer(r"(?:^|\n\n)(Human|Assistant):", prompt))
    ends_in_assistant = bool(marks) and marks[-1].group(1) == "Assistant"
    last = prompt[marks[-1].end() :] if marks else prompt
    return ends_in_assistant, bool(re.search(r"Assistant:[ \t]*Human:", prompt)), last.strip()


def continues_dialogue(prompt: str, response: str) -> bool:
    """The response goes beyond its own single reply: a Human turn, a second Assistant
    turn, an invented speaker who comes back, or text that carries on the user's
    unfinished last message in the user's voice. A leading ``Assistant:`` (or ``A:``)
    label, a lone ``.`` or ``?`` closing the user's sentence, and carrying on an Assistant
    turn the prompt ends inside do not count."""
    ends_in_assistant, mimics, last = prompt_shape(prompt)
    turns = speaker_turns(response)
    lead = response[: turns[0].end].strip()
    tagged = [t.speaker for t in turns[1:]]
    if tagged and not re.search(r"\w", lead):  # the first tag labels the reply itself
        first = tagged[0]
        if first in ("Assistant", "A") or (first == "Human" and mimics) or first not in SPEAKERS:
            tagged = tagged[1:]
    if any(s in SPEAKERS for s in tagged):
        return True
    invented = [t.speaker for t in turns[1:] if t.speaker not in SPEAKERS]
    if len(set(invented)) < len(invented):  # an invented speaker who comes back ("Me:")
        return True
    if ends_in_assistant or not lead:
        return False
    if lead[0] in ".?!," and re.search(r"\w", lead):  # ". Can you help me?"
        return True
    unfinished = bool(last) and last[-1] not in ".?!\"')”:"
    return unfinished and lead[0].islower()  # "and rude.", "movie."


def tokens(text: str) -> tuple[list[str], list[tuple[int, int]], set[int]]:
    """Lower-cased word and punctuation tokens of ``text`` outside speaker tags, their
    character spans, and the token positions where a turn starts."""
    norm = normalize(text).lower()
    toks: list[str] = []
    spans: list[tuple[int, int]] = []
    turn_starts = set()
    for turn in speaker_turns(text):
        turn_starts.add(len(toks))
        for m in TOKEN.finditer(norm, turn.start, turn.end):
            toks.append(m.group())
            spans.append(m.span())
    return toks, spans, turn_starts


def sentence_starts(toks: list[str], turn_starts: set[int]) -> list[int]:
    """Token positions where a sentence or a turn starts, and the end position."""
    starts = {0, len(toks)} | turn_starts
    for k in range(1, len(toks)):
        prev = toks[k - 1]
        after_end = prev in ENDS and toks[k] not in CLOSERS | ENDS
        after_close = prev in CLOSERS and k > 1 and toks[k - 2] in ENDS  # ." or .)
        if after_end or after_close:
            starts.add(k)
    return sorted(k for k in starts if k <= len(toks))


def _weight(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Characters from token ``lo`` to token ``hi`` (exclusive), spaces between included."""
    return spans[hi - 1][1] - spans[lo][0] if hi > lo else 0


def _is_content(toks) -> bool:
    return any(WORD.fullmatch(t) for t in toks)


def loop_share(text: str, toks: list[str], spans: list[tuple[int, int]], times: int) -> float:
    """The largest share of the characters that ``times`` or more non-overlapping copies
    of one token sequence cover (a cut-off last copy counts when it is at least half a
    copy)."""
    total = len(text.strip()) or 1
    n_tok, best = len(toks), 0.0
    for n in range(1, n_tok // 2 + 1):
        seen: dict[tuple, list[int]] = {}
        for i in range(n_tok - n + 1):
            seen.setdefault(tuple(toks[i : i + n]), []).append(i)
        if best >= 1.0 or len(seen) == n_tok - n + 1:  # all of it, or nothing repeats
            break  # (no n-gram repeats: no longer one does either)
        for unit, where in seen.items():
            if len(where) < times - 1:
                continue
            copies, end = [], -1
            for i in where:
                if i >= end:
                    copies.append(i)
                    end = i + n
            tail = [k for k in range(end, n_tok) if tuple(toks[k:]) == unit[: n_tok - k]]
            cut = tail[0] if tail else None
            if cut is not None and 2 * _weight(spans, cut, n_tok) < _weight(spans, end - n, end):
                cut = None  # a cut-off copy is at least half a copy
            if len(copies) + (cut is not None) < times:
                continue
            chars = sum(_weight(spans, i, i + n) for i in copies)
            chars += _weight(spans, cut, n_tok) if cut is not None else 0
            best = max(best, chars / total)
    return best


def repeat_share(
    text: str, toks: list[str], spans: list[tuple[int, int]], turn_starts: set[int]
) -> float:
    """The largest share of the characters that a sentence or block of sentences (turns)
    repeated straight away covers, A A or AB AB. A cut-off second copy counts when it is
    at least half the first and reaches words of the block's last sentence (so A B A is
    not A B A B)."""
    total = len(text.strip()) or 1
    starts = sentence_starts(toks, turn_starts)
    n_tok, best = len(toks), 0.0
    for a, i in enumerate(starts):
        for b, j in enumerate(starts[a + 1 :], start=a + 1):
            n, unit = j - i, toks[i:j]
            if toks[j : j + n] == unit:
                copy_end = j + n
            elif j + n > n_tok and toks[j:] == unit[: n_tok - j]:
                last = starts[b - 1] - i  # where the block's last sentence starts
                short = 2 * _weight(spans, j, n_tok) < _weight(spans, i, j)
                if short or not _is_content(toks[j + last :]):
                    continue
                copy_end = n_tok
            else:
                continue
            best = max(best, (_weight(spans, i, j) + _weight(spans, j, copy_end)) / total)
    return best


def repetition_share(text: str, times: int) -> float:
    """How much of ``text`` its worst loop covers: the larger of ``loop_share`` (a unit
    ``times`` or more times) and ``repeat_share`` (a sentence or block repeated at once)."""
    toks, spans, turn_starts = tokens(text)
    return max(loop_share(text, toks, spans, times), repeat_share(text, toks, spans, turn_starts))


def _words(text: str, turns: list[Turn] | None = None) -> tuple[list[str], list]:
    """Lower-cased words of ``text`` (quotes normalized; speaker tags left out when its
    ``turns`` are given) with their character spans."""
    norm = normalize(text).lower()
    ranges = [(t.start, t.end) for t in turns] if turns else [(0, len(text))]
    found = [m for lo, hi in ranges for m in WORD.finditer(norm, lo, hi)]
    return [m.group() for m in found], [m.span() for m in found]


def untagged(prompt: str) -> str:
    """The prompt without its ``Human:`` and ``Assistant:`` markers."""
    return re.sub(r"(?:^|\n)[ \t]*(?:Human|Assistant)[ \t]*:", "\n", prompt)


def sentences(response: str) -> list[tuple[int, int]]:
    """Character spans of the response's sentences (speaker tags left out; a sentence ends
    at ``.``, ``?``, ``!`` or a line break)."""
    return [
        (turn.start + m.start(), turn.start + m.end())
        for turn in speaker_turns(response)
        for m in re.finditer(r"[^.?!\n]+[.?!]*", response[turn.start : turn.end])
        if m.group().strip()
    ]


def copied_spans(response: str, prompt: str, min_words: int, gap: int) -> list[tuple[int, int]]:
    """Character spans of ``response`` copied from anywhere in ``prompt``: difflib's
    longest matches, found again in what is left on either side (a copy may come from any
    part of the prompt, and more than once); two copies with at most ``gap`` words
    changed between them (on both sides) are one copy; what a copy covers of each
    response sentence counts when it is at least ``min_words`` words (so a few key words
    carried into a new sentence do not)."""
    words, spans = _words(response, speaker_turns(response))
    source, _ = _words(untagged(prompt))
    matcher = SequenceMatcher(None, words, source, autojunk=False)
    found, todo = [], [(0, len(words))]
    while todo:
        lo, hi = todo.pop()
        m = matcher.find_longest_match(lo, hi, 0, len(source)) if hi - lo >= 2 else None
        if m and m.size >= 2:
            found.append((m.a, m.b, m.size))
            todo += [(lo, m.a), (m.a + m.size, hi)]
    merged: list[list[int]] = []
    for a, b, size in sorted(found):
        if merged:
            pa, pb, pend = merged[-1]
            if 0 <= a - pend <= gap and 0 <= b - pb - (pend - pa) <= gap + 1:
                merged[-1][2] = a + size
                continue
        merged.append([a, b, a + size])
    pieces = []
    for a, _, end in merged:
        lo, hi = spans[a][0], spans[end - 1][1]
        for s_lo, s_hi in sentences(response):
            part = (max(lo, s_lo), min(hi, s_hi))
            if len(WORD.findall(response[part[0] : part[1]])) >= min_words:
                pieces.append(part)
    return pieces


def similar_sentences(response: str, prompt: str, min_words: int, changes: int, floor: float):
    """Character spans of the response's sentences of at least ``min_words`` words that
    copy prompt text with at most ``changes`` words changed, added or dropped (word-level
    Levenshtein distance, rapidfuzz, against the prompt's words where rapidfuzz's partial
    ratio, at least ``floor``, aligns the sentence)."""
    norm, source = normalize(response).lower(), normalize(untagged(prompt)).lower()
    src = list(WORD.finditer(source))
    src_words = [m.group() for m in src]
    found = []
    for lo, hi in sentences(response):
        words = WORD.findall(norm[lo:hi])
        if len(words) < min_words:
            continue
        hit = fuzz.partial_ratio_alignment(norm[lo:hi].strip(), source, score_cutoff=floor)
        if hit is None:
            continue
        k0 = next((k for k, m in enumerate(src) if m.end() > hit.dest_start), len(src))
        best = min(
            Levenshtein.distance(words, src_words[start : start + size])
            for start in range(max(0, k0 - changes), k0 + changes + 1)
            for size in range(len(words) - changes, len(words) + changes + 1)
        )
        if best <= changes:
            found.append((lo, hi))
    return found


def is_stock(text: str, patterns: list[str], changes: int) -> bool:
    """Whether ``text`` is a stock phrase (one of ``patterns``, case-insensitive) with at
    most ``changes`` other words: something any reply may say, not a copy."""
    rest = normalize(text)
    for pattern in patterns:
        rest = re.sub(pattern, " ", rest, flags=re.IGNORECASE)
    return len(rest) < len(normalize(text)) and len(WORD.findall(rest)) <= changes


def echo_share(prompt: str, response: str, rules: dict) -> float:
    """The share of the response's characters that copy prompt text verbatim or
    near-verbatim (copies that are stock phrases excepted, ``is_stock``); when invented
    turns follow the model's own reply, the larger of that and the own reply's share."""
    spans = copied_spans(response, prompt, rules["echo_min_words"], rules["echo_changes"])
    spans += similar_sentences(
        response,
        prompt,
        rules["echo_sentence_words"],
        rules["echo_changes"],
        rules["echo_similarity"],
    )
    copied = [False] * len(response)
    for lo, hi in spans:
        if not is_stock(response[lo:hi], rules["echo_stock_phrases"], rules["echo_changes"]):
            copied[lo:hi] = [True] * (hi - lo)
    turns = [t for t in speaker_turns(response) if response[t.start : t.end].strip()]
    if not turns:
        return 0.0
    total = len(response.strip())
    own = turns[0]
    own_len = len(response[own.start : own.end].strip())
    whole = sum(copied) / total
    mine = sum(copied[own.start : own.end]) / own_len if len(turns) > 1 and own_len else 0.0
    return max(whole, mine)


def is_non_text(response: str, word_share: float) -> bool:
    """No natural-language phrase at all: what is left without URLs, markup and scraped
    counters (``1,821 shares``) holds no word, or letters and digits are fewer than
    ``word_share`` of the non-space characters. Speaker tags are words."""
    chars = [c for c in response if not c.isspace()]
    if not chars:
        return False
    rest = ARTEFACT.sub(" ", URL.sub(" ", response))
    return not LANGUAGE.search(rest) or sum(c.isalnum() for c in chars) / len(chars) < word_share


def is_refusal(response: str, patterns: list[str]) -> bool:
    """One of the refusal ``patterns`` (case-insensitive) matches the response outside its
    Human turns (the user's voice refuses nothing); quotes are normalized first."""
    own = "\n".join(
        response[t.start : t.end] for t in speaker_turns(response) if t.speaker != "Human"
    )
    own = normalize(own)
    return any(re.search(p, own, re.IGNORECASE) for p in patterns)
