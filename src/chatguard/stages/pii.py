"""The PII stage: emails, phone numbers, cards, IBANs, SSNs, IP and street addresses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatguard.filter.pii import PiiDetector
from chatguard.stages.filter import DetectorStage

if TYPE_CHECKING:
    from chatguard.config import Settings


class PiiStage(DetectorStage):
    name = "pii"

    def __init__(self, *, detector: PiiDetector | None = None, timeout_s: float = 0.5) -> None:
        super().__init__(detectors=[detector or PiiDetector()], timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiStage:
        return cls()
