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


@router.get("/health")
async def health(service: ServiceDep) -> JSONResponse:
    """Each component's health; 200 when all are up, 503 when any is down."""
    components = await service.health()
    ok = all(c.ok for c in components)
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "uptime_s": round(time.time() - service.started_at, 1),
        "stages": service.pipeline.stage_names,
        "components": {c.name: {"ok": c.ok, "detail": c.detail} for c in components},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@metrics_router.get("/metrics")
async def metrics(service: ServiceDep) -> Response:
    """Prometheus text exposition of the service's metrics."""
    await service.health()  # refresh the component gauges
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
