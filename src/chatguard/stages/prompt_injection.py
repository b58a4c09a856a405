"""The prompt-injection stage: text that tries to instruct the moderation model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatguard.filter.injection import InjectionDetector
from chatguard.stages.filter import DetectorStage

if TYPE_CHECKING:
    from chatguard.config import Settings


class PromptInjectionStage(DetectorStage):
    name = "prompt_injection"

    def __init__(
        self, *, detector: InjectionDetector | None = None, timeout_s: float = 0.5
    ) -> None:
        super().__init__(detectors=[detector or InjectionDetector()], timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> PromptInjectionStage:
        return cls()
