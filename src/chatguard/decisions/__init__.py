"""The decision handler: channel policies, strikes, the review queue, the audit log and the
action sinks (events, signed webhooks, chat connectors)."""

from chatguard.decisions.engine import PolicyEngine
from chatguard.decisions.policy import ActionRule, ChannelPolicy, FailMode, Severity, parse_policy
from chatguard.decisions.presets import Presets, load_presets
from chatguard.decisions.review import ReviewQueue

__all__ = [
    "ActionRule",
    "ChannelPolicy",
    "FailMode",
    "PolicyEngine",
    "Presets",
    "ReviewQueue",
    "Severity",
    "load_presets",
    "parse_policy",
]
