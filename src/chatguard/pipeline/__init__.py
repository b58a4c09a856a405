"""The moderation cascade: stages behind one interface, a registry, a router and the pipeline."""

from chatguard.pipeline.pipeline import Pipeline
from chatguard.pipeline.router import Router, Thresholds
from chatguard.pipeline.stage import CpuStage, Stage, StageInput

__all__ = ["CpuStage", "Pipeline", "Router", "Stage", "StageInput", "Thresholds"]
