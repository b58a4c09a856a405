"""The adjudicator-format interface: how a model is asked and how its answer is read.

General models (DeepSeek-R1) judge a batch of messages per prompt and answer in chatguard's
own JSON (`chatguard.llm.prompt`, `chatguard.llm.parse`). Dedicated guard models each have a
prompt and an answer format of their own and judge one conversation per request: a
`GuardFormat` builds those requests for one message and reads the answers back onto the
taxonomy. Whatever the format, the stage applies the same cache, deadline, control message
and guard rail to the scores it returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chatguard.llm.client import Completion
from chatguard.llm.parse import LLMParseError
from chatguard.taxonomy import ALL_CATEGORIES, Category

__all__ = ["AdjudicatorFormat", "GuardFormat", "GuardRequest", "LLMParseError"]


@dataclass(frozen=True, slots=True)
class GuardRequest:
    """One chat-completions request: the messages and the request fields the format needs."""

    messages: list[dict[str, Any]]
    temperature: float = 0.0
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: What this request asks about (a ShieldGemma policy), for the parser.
    label: str = ""


class AdjudicatorFormat(ABC):
    """A way of asking a model for verdicts."""

    name: ClassVar[str]
    #: Several messages per prompt (the stage builds the prompt and parses the JSON answer).
    batched: ClassVar[bool] = False
    #: The categories the model judges. Its silence on the others is no evidence: they keep
    #: the fast tier's scores.
    covers: ClassVar[frozenset[Category]] = frozenset(ALL_CATEGORIES)


class GuardFormat(AdjudicatorFormat):
    """A guard model's native format: one message per request (or a few requests)."""

    @abstractmethod
    def requests(self, text: str, rules: str | None = None) -> list[GuardRequest]:
        """The requests that judge `text` (under the channel's `rules`, for formats that
        take a written policy)."""

    @abstractmethod
    def verdict(
        self, requests: Sequence[GuardRequest], answers: Sequence[Completion]
    ) -> tuple[dict[Category, float], str]:
        """Scores and a short reason from the answers to `requests`, in order. Raises
        `LLMParseError` (describing the problem, never quoting the answer) when an answer is
        not in the model's format."""

    def instructions_digest(self, rules: str | None = None) -> str:
        """Everything besides the message that shapes a verdict (for the cache key)."""
        return self.name
