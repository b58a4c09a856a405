"""Every stage that ships with chatguard, registered by name.

Adding a stage: write its module here, then add one `register_stage` line below. A test checks
that every module in this package is registered and buildable from settings.
"""

from chatguard.classifier.stage import ClassifierStage
from chatguard.llm.stage import LLMStage
from chatguard.pipeline.registry import register_stage
from chatguard.semantic.stage import SemanticStage
from chatguard.stages.filter import FilterStage
from chatguard.stages.pii import PiiStage
from chatguard.stages.prompt_injection import PromptInjectionStage
from chatguard.stages.rules import RuleStage
from chatguard.stages.spam import SpamStage

register_stage(RuleStage.name, RuleStage.from_settings)
register_stage(FilterStage.name, FilterStage.from_settings)
register_stage(PiiStage.name, PiiStage.from_settings)
register_stage(SpamStage.name, SpamStage.from_settings)
register_stage(PromptInjectionStage.name, PromptInjectionStage.from_settings)
register_stage(ClassifierStage.name, ClassifierStage.from_settings)
register_stage(SemanticStage.name, SemanticStage.from_settings)
register_stage(LLMStage.name, LLMStage.from_settings)

__all__ = [
    "ClassifierStage",
    "FilterStage",
    "LLMStage",
    "PiiStage",
    "PromptInjectionStage",
    "RuleStage",
    "SemanticStage",
    "SpamStage",
]
