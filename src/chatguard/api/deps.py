"""Dependency aliases shared by the routers: the application layer and its parts.

A part that needs the policy engine or its database answers 503 from here, before the
principal is resolved, as the routes always have."""

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


def get_application(request: Request) -> Application:
    application: Application = request.app.state.application
    return application


AppDep = Annotated[Application, Depends(get_application)]


def _decisions(app: AppDep) -> Decisions:
    return app.decisions


def _policies(app: AppDep) -> Policies:
    return app.policies


def _review(app: AppDep) -> Review:
    return app.review


def _audit(app: AppDep) -> Audit:
    return app.audit


def _users(app: AppDep) -> Users:
    return app.users


def _erasure(app: AppDep) -> Erasure:
    return app.erasure


def _keys(app: AppDep) -> ApiKeys:
    return app.keys


def _webhooks(app: AppDep) -> Webhooks:
    return app.webhooks


DecisionsDep = Annotated[Decisions, Depends(_decisions)]
PoliciesDep = Annotated[Policies, Depends(_policies)]
ReviewDep = Annotated[Review, Depends(_review)]
AuditDep = Annotated[Audit, Depends(_audit)]
UsersDep = Annotated[Users, Depends(_users)]
ErasureDep = Annotated[Erasure, Depends(_erasure)]
KeysDep = Annotated[ApiKeys, Depends(_keys)]
WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]
