"""Adjudicator formats, by the name `LLM_FORMAT` selects."""

from __future__ import annotations

from chatguard.errors import ConfigurationError
from chatguard.llm.formats.base import AdjudicatorFormat, GuardFormat, GuardRequest
from chatguard.llm.formats.deepseek import DeepSeekFormat
from chatguard.llm.formats.gpt_oss_safeguard import GptOssSafeguardFormat
from chatguard.llm.formats.llama_guard import LlamaGuard3Format, LlamaGuard4Format
from chatguard.llm.formats.shieldgemma import ShieldGemmaFormat

__all__ = ["FORMATS", "AdjudicatorFormat", "GuardFormat", "GuardRequest", "build_format"]

FORMATS: dict[str, type[AdjudicatorFormat]] = {
    f.name: f
    for f in (
        DeepSeekFormat,
        LlamaGuard3Format,
        LlamaGuard4Format,
        ShieldGemmaFormat,
        GptOssSafeguardFormat,
    )
}


def build_format(name: str) -> AdjudicatorFormat:
    """The format called `name`; an unknown name is a configuration error naming the known."""
    try:
        return FORMATS[name]()
    except KeyError:
        known = ", ".join(FORMATS)
        raise ConfigurationError(f"LLM_FORMAT: unknown format {name!r}; known: {known}") from None
