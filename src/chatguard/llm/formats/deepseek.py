"""General instruction-following models (DeepSeek-R1 and its distills): a batch of messages
per prompt, chatguard's own instructions and JSON answer (`chatguard.llm.prompt` builds the
prompt, `chatguard.llm.parse` reads the answer, with one repair request)."""

from __future__ import annotations

from chatguard.llm.formats.base import AdjudicatorFormat


class DeepSeekFormat(AdjudicatorFormat):
    name = "deepseek"
    batched = True
