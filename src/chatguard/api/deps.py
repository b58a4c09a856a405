"""Dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chatguard.service import ModerationService


def get_service(request: Request) -> ModerationService:
    service: ModerationService = request.app.state.service
    return service


ServiceDep = Annotated[ModerationService, Depends(get_service)]
