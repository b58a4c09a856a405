"""Dependency aliases shared by the routers: the application layer and its parts.

A part that needs the policy engine or its database answers 503 from here, before the
principal is resolved, as the routes always have.

Every dependency here is `async def`, although none awaits anything: FastAPI runs a plain
`def` dependency in its thread pool, a thread hop (and a wait for the GIL) per request for
what is an attribute read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chatguard.app import Application
from chatguard.app.audit import Audit
from chatguard.app.decisions import Decisions
from chatguard.app.erasure import Erasure
from chatguard.app.keys import ApiKeys
from chatguard.app.policies import Policies
from chatguard.app.review import Review
from chatguard.app.users import Users
from chatguard.app.webhooks import Webhooks


async def get_application(request: Request) -> Application:
    application: Application = request.app.state.application
    return application


AppDep = Annotated[Application, Depends(get_application)]


async def _decisions(app: AppDep) -> Decisions:
    return app.decisions


async def _policies(app: AppDep) -> Policies:
    return app.policies


async def _review(app: AppDep) -> Review:
    return app.review


async def _audit(app: AppDep) -> Audit:
    return app.audit


async def _users(app: AppDep) -> Users:
    return app.users


async def _erasure(app: AppDep) -> Erasure:
    return app.erasure


async def _keys(app: AppDep) -> ApiKeys:
    return app.keys


async def _webhooks(app: AppDep) -> Webhooks:
    return app.webhooks


DecisionsDep = Annotated[Decisions, Depends(_decisions)]
PoliciesDep = Annotated[Policies, Depends(_policies)]
ReviewDep = Annotated[Review, Depends(_review)]
AuditDep = Annotated[Audit, Depends(_audit)]
UsersDep = Annotated[Users, Depends(_users)]
ErasureDep = Annotated[Erasure, Depends(_erasure)]
KeysDep = Annotated[ApiKeys, Depends(_keys)]
WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]
