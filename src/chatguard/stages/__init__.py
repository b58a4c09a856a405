"""Every stage that ships with chatguard, registered by name.

Adding a stage: write its module here, then add one `register_stage` line below. A test checks
that every module in this package is registered and buildable from settings.
"""

from chatguard.classifier.stage import ClassifierStage
from chatguard.pipeline.registry import register_stage
from chatguard.stages.rules import RuleStage

register_stage(RuleStage.name, RuleStage.from_settings)
register_stage(ClassifierStage.name, ClassifierStage.from_settings)

__all__ = ["ClassifierStage", "RuleStage"]
