"""`GET /health` and `GET /metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from chatguard.api.deps import AppDep
from chatguard.api.openapi import errors
from chatguard.api.security import MetricsAccess

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])
#: The Prometheus text format every Prometheus server reads.
METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "An essential component is down (the same body, `status: down`)"}
}
METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition",
        "content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}},
    },
    **errors(401),  # only with METRICS_REQUIRE_KEY
}


@router.get("/health", responses=HEALTH_RESPONSES)
async def health(app: AppDep) -> JSONResponse:
    """Open to everyone (probes and load balancers). Each component's health: 200 "ok" when
    all are up, 200 "degraded" when only optional ones (the LLM) are down and moderation
    goes on without them, 503 when an essential one is."""
    report = await app.stats.health()
    body: dict[str, Any] = {
        "status": report.status,
        "version": report.version,
        "uptime_s": report.uptime_s,
        "stages": list(report.stages),
        "components": {
            c.name: {"ok": c.ok, "detail": c.detail, "essential": c.essential}
            for c in report.components
        },
    }
    return JSONResponse(body, status_code=200 if report.serving else 503)


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses=METRICS_RESPONSES,
    dependencies=[MetricsAccess],
    # A key is optional here (the empty requirement) unless METRICS_REQUIRE_KEY is set.
    openapi_extra={"security": [{}]},
)
async def metrics(app: AppDep) -> Response:
    """Prometheus text exposition of the service's metrics. Open unless METRICS_REQUIRE_KEY
    is set (then any API key will do)."""
    return Response(await app.stats.metrics_text(), media_type=METRICS_CONTENT_TYPE)
