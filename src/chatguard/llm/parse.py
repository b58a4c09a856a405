"""Reading verdicts out of an LLM answer.

DeepSeek-R1 and its distills think aloud before answering: `<think>...</think>`, and often the
chat template has already emitted the opening tag, so only `</think>` appears. Models also wrap
JSON in Markdown fences or add prose around it. The parser strips the reasoning, takes the final
JSON object that parses, validates it, and says plainly what was wrong when nothing fits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatguard.taxonomy import Category, UnknownCategoryError, parse_category

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
#: Longest reason kept from a verdict: it is stored and shown to moderators.
MAX_REASON_CHARS = 300


class LLMParseError(ValueError):
    """The answer holds no valid verdict object. The message describes the problem, never the
    answer's text (it may quote the chat message)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The LLM's judgement of one message."""

    id: str
    scores: Mapping[Category, float]
    reason: str = ""
    #: Why the answer holding this verdict is not to be trusted (it failed its control
    #: check); empty for a usable verdict.
    distrust: str = ""


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """Verdicts by message id, and what was skipped on the way."""

    verdicts: dict[str, Verdict]
    problems: tuple[str, ...] = field(default=())


def strip_reasoning(text: str) -> str:
    """Remove `<think>...</think>` blocks, and everything before a lone `</think>`."""
    text = _THINK_BLOCK.sub("", text)
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    # An unterminated <think> (answer cut off mid-thought) holds no verdict.
    opening = text.lower().find("<think>")
    if opening != -1:
        text = text[:opening]
    return text.strip()


def json_objects(text: str) -> list[Any]:
    """Every top-level JSON object or array in `text`, left to right."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while index < len(text):
        if text[index] not in "{[":
            index += 1
            continue
        try:
            value, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            index += 1
            continue
        found.append(value)
        index = end
    return found


def parse_answer(text: str, expected_ids: Iterable[str]) -> ParsedAnswer:
    """Verdicts for the `expected_ids` found in the answer. Raises `LLMParseError` when the
    answer holds no usable verdict object at all; a verdict missing for some ids is not an
    error here (the caller retries those)."""
    expected = list(expected_ids)
    body = strip_reasoning(text)
    if not body:
        raise LLMParseError("the answer is empty once the reasoning is removed")
    candidates: list[Any] = []
    for fenced in _FENCE.findall(body):
        candidates.extend(json_objects(fenced))
    candidates.extend(json_objects(body))
    if not candidates:
        raise LLMParseError("the answer holds no JSON object")
    problems: list[str] = []
    # The final object is the answer; earlier ones are usually drafts or examples.
    for candidate in reversed(candidates):
        items = _verdict_items(candidate, expected)
        if items is None:
            continue
        verdicts: dict[str, Verdict] = {}
        for item in items:
            try:
                verdict = _verdict(item)
            except LLMParseError as exc:
                problems.append(str(exc))
                continue
            if verdict.id in expected:
                verdicts[verdict.id] = verdict
            else:
                problems.append(f"verdict for unknown id {verdict.id[:40]!r} ignored")
        if verdicts:
            return ParsedAnswer(verdicts, tuple(problems))
    detail = f" ({problems[0]})" if problems else ""
    raise LLMParseError("no JSON object in the answer matches the verdict schema" + detail)


def _verdict_items(candidate: Any, expected: list[str]) -> list[Any] | None:
    if isinstance(candidate, dict):
        for key in ("results", "verdicts", "messages"):
            if isinstance(candidate.get(key), list):
                return list(candidate[key])
        if "categories" in candidate or "scores" in candidate:
            # A single verdict; for a single message the id may be left out.
            if "id" not in candidate and len(expected) == 1:
                return [{**candidate, "id": expected[0]}]
            return [candidate]
        return None
    if isinstance(candidate, list) and all(isinstance(x, dict) for x in candidate) and candidate:
        return list(candidate)
    return None


def _verdict(item: Any) -> Verdict:
    if not isinstance(item, dict):
        raise LLMParseError("a verdict is not an object")
    raw_id = item.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or raw_id == "":
        raise LLMParseError("a verdict has no id")
    raw_scores = item.get("categories", item.get("scores", {}))
    scores = _scores(raw_scores)
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        reason = ""
    return Verdict(str(raw_id), scores, " ".join(reason.split())[:MAX_REASON_CHARS])


def _scores(raw: Any) -> dict[Category, float]:
    """Scores from `{"name": 0.9}`, `{"name": true}` or `["name", ...]` (each listed = 1.0)."""
    if isinstance(raw, list):
        raw = {name: 1.0 for name in raw if isinstance(name, str)}
    if not isinstance(raw, dict):
        raise LLMParseError("a verdict's categories are neither an object nor a list")
    scores: dict[Category, float] = {}
    for name, value in raw.items():
        try:
            category = parse_category(str(name).strip().lower())
        except UnknownCategoryError:
            continue  # a made-up category is no evidence for a real one
        if isinstance(value, bool):
            score = 1.0 if value else 0.0
        elif isinstance(value, int | float):
            score = float(value)
        elif isinstance(value, str):
            try:
                score = float(value)
            except ValueError:
                raise LLMParseError(f"the score for {category.value} is not a number") from None
        else:
            raise LLMParseError(f"the score for {category.value} is not a number")
        if score != score:  # NaN
            raise LLMParseError(f"the score for {category.value} is not a number")
        # Some models answer on a 0-100 scale.
        if 1.0 < score <= 100.0:
            score /= 100.0
        scores[category] = min(1.0, max(0.0, score))
    return scores
