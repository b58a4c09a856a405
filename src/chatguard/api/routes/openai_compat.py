"""`POST /v1/moderations`, compatible with OpenAI's moderation endpoint and its SDKs."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from chatguard import __version__
from chatguard.api.deps import AppDep
from chatguard.api.openapi import WITH_BODY, secured
from chatguard.api.schemas import OpenAIModerationRequest
from chatguard.api.security import IngestPrincipal
from chatguard.serialize import assessment_dict
from chatguard.taxonomy import CHAT_CATEGORIES, OPENAI_CATEGORIES

router = APIRouter(tags=["openai-compatible"])
MODEL_NAME = f"chatguard-{__version__}"


@router.post("/v1/moderations", responses=secured(*WITH_BODY))  # type: ignore[arg-type]
async def create_moderation(
    body: OpenAIModerationRequest, app: AppDep, principal: IngestPrincipal
) -> dict[str, Any]:
    """Classify text the way OpenAI's moderation API does. Stateless: nothing is stored and no
    per-user state (rates, strikes) is touched. Scope: ingest (the SDKs send the key as
    `api_key`, which is `Authorization: Bearer`)."""
    assessments = await app.moderation.classify(principal, _texts(body.input))
    results = []
    for assessment in assessments:
        view = assessment_dict(assessment)
        results.append(
            {
                "flagged": view["flagged"],
                "categories": {c.value: view["categories"][c.value] for c in OPENAI_CATEGORIES},
                "category_scores": {
                    c.value: view["category_scores"][c.value] for c in OPENAI_CATEGORIES
                },
                "category_applied_input_types": {c.value: ["text"] for c in OPENAI_CATEGORIES},
                "chat_categories": {c.value: view["categories"][c.value] for c in CHAT_CATEGORIES},
                "chat_category_scores": {
                    c.value: view["category_scores"][c.value] for c in CHAT_CATEGORIES
                },
                "decided_by": view["decided_by"],
            }
        )
    return {"id": f"modr-{uuid.uuid4().hex}", "model": body.model or MODEL_NAME, "results": results}


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    assert isinstance(value, list)
    return [item if isinstance(item, str) else item.text for item in value]
