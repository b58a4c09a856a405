"""The LLM part's exceptions, kept apart from the client so that importing the stage does not
load the `openai` SDK (over a second) when no LLM is configured."""

from __future__ import annotations

from chatguard.errors import StageUnavailableError


class LLMError(StageUnavailableError):
    """The endpoint could not give an answer (after retries)."""


class LLMSchemaUnsupportedError(LLMError):
    """The server refused `response_format`; the caller falls back to plain text."""
