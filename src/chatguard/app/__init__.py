"""The application layer: the use cases every adapter calls (moderate, review, policies, user
records, audit, statistics, erasure, API keys, webhook dead letters, the decision feed), each
with the acting principal passed in and its scope checked here. Free of any web framework."""

from chatguard.app.access import connector_principal, local_admin
from chatguard.app.application import Application
from chatguard.app.audit import AuditQuery
from chatguard.app.policies import PresetCatalog
from chatguard.app.stats import HealthReport, ModerationSummary
from chatguard.app.users import UserStanding

__all__ = [
    "Application",
    "AuditQuery",
    "HealthReport",
    "ModerationSummary",
    "PresetCatalog",
    "UserStanding",
    "connector_principal",
    "local_admin",
]
