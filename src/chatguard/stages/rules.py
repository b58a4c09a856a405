"""The rules stage: the default term list plus each channel's blocked and permitted terms and
regex rules (see `chatguard.filter.rules`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatguard.filter.rules import RuleDetector, RuleEngine
from chatguard.stages.filter import DetectorStage

if TYPE_CHECKING:
    from chatguard.config import Settings


class RuleStage(DetectorStage):
    """Finds blocked terms. It can act on a severe hit but never clears a message on its own."""

    name = "rules"

    def __init__(self, *, rule_engine: RuleEngine | None = None, timeout_s: float = 0.5) -> None:
        self.rule_engine = rule_engine or RuleEngine()
        super().__init__(detectors=[RuleDetector(engine=self.rule_engine)], timeout_s=timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> RuleStage:
        return cls()
