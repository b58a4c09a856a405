"""The spam stage: rate, repeats, raids, caps, floods, links and mentions. Stateful: its
windows live in the process or in Redis (`SPAM_STATE`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatguard.filter.spam import SpamDetector
from chatguard.stages.filter import DetectorStage, spam_state_from_settings

if TYPE_CHECKING:
    from chatguard.config import Settings


class SpamStage(DetectorStage):
    name = "spam"

    def __init__(self, *, detector: SpamDetector | None = None, timeout_s: float = 0.5) -> None:
        super().__init__(spam=detector or SpamDetector(), timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> SpamStage:
        return cls(detector=SpamDetector(state=spam_state_from_settings(settings)))
