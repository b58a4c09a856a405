"""`POST /decide`: the decision handler on its own: an assessment made elsewhere, in; the
channel's decision, out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chatguard.api.decision_schemas import DecideBatchRequest, DecideRequest
from chatguard.api.deps import DecisionsDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.responses import DECISION
from chatguard.api.security import AdminPrincipal
from chatguard.serialize import decision_dict

router = APIRouter(tags=["decisions"], responses=DECISION)


@router.post("/decide", responses=secured(*WITH_BODY, 503))  # type: ignore[arg-type]
async def decide(
    body: DecideRequest, decisions: DecisionsDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """Decide what to do about a message under its channel's policy, given its assessment.
    Scope: admin (the caller asserts the scores)."""
    message = body.to_message()
    assessment = body.assessment.to_assessment(message.id)
    decision = await decisions.decide(principal, message, assessment, final=body.final)
    return decision_dict(decision)


@router.post("/decide/batch", responses=secured(*WITH_BODY, 408, 503))  # type: ignore[arg-type]
async def decide_batch(
    body: DecideBatchRequest, decisions: DecisionsDep, principal: AdminPrincipal
) -> dict[str, Any]:
    """`POST /decide` for many messages in one call (their effects in one transaction);
    results keep the input order. Past `deadline` (Unix seconds) nothing is written and the
    answer is 408. Scope: admin."""
    items = []
    for one in body.decisions:
        message = one.to_message()
        items.append((message, one.assessment.to_assessment(message.id), one.final))
    decided = await decisions.decide_many(principal, items, deadline=body.deadline)
    return {"results": [decision_dict(d) for d in decided]}
