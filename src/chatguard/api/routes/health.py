"""`GET /health` and `GET /metrics`."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from chatguard import __version__
from chatguard.api.deps import ServiceDep

router = APIRouter(tags=["operations"])
metrics_router = APIRouter(tags=["operations"])
DOWN: dict[int | str, dict[str, Any]] = {
    503: {"description": "An essential component is down (the body says which)."}
}
PROMETHEUS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}
}


@router.get("/health", responses=DOWN)
async def health(service: ServiceDep) -> JSONResponse:
    """Each component's health: 200 "ok" when all are up, 200 "degraded" when only optional
    ones (the LLM) are down and moderation goes on without them, 503 when an essential one is."""
    components = await service.health()
    ok = all(c.ok for c in components if c.essential)
    status = "ok" if all(c.ok for c in components) else "degraded" if ok else "down"
    body: dict[str, Any] = {
        "status": status,
        "version": __version__,
        "uptime_s": round(time.time() - service.started_at, 1),
        "stages": service.pipeline.stage_names,
        "components": {
            c.name: {"ok": c.ok, "detail": c.detail, "essential": c.essential} for c in components
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@metrics_router.get("/metrics", response_class=Response, responses=PROMETHEUS)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus text exposition of the service's metrics."""
    await service.health()  # refresh the component gauges
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
