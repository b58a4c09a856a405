"""Dependencies of the decision handler's routes: the policy engine and its stored parts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chatguard.decisions import PolicyEngine, ReviewQueue
from chatguard.decisions.audit import AuditLog
from chatguard.errors import StageUnavailableError


def get_engine(request: Request) -> PolicyEngine:
    decider = request.app.state.service.decider
    if not isinstance(decider, PolicyEngine):
        raise StageUnavailableError("the decision handler is not configured in this service")
    return decider


EngineDep = Annotated[PolicyEngine, Depends(get_engine)]


def get_reviews(engine: EngineDep) -> ReviewQueue:
    if engine.reviews is None:
        raise StageUnavailableError("the review queue needs a database")
    return engine.reviews


def get_audit(engine: EngineDep) -> AuditLog:
    if engine.audit is None:
        raise StageUnavailableError("the audit log needs a database")
    return engine.audit


ReviewsDep = Annotated[ReviewQueue, Depends(get_reviews)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
