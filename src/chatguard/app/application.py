"""The application facade: one object holding every use case, built around a running
`ModerationService`. Adapters (HTTP, WebSocket, CLI, connectors, and the MCP server and web UI
that follow) call its parts and nothing deeper; each part checks the acting principal's scope
itself, so the rules are the same whichever adapter is used.

Parts that need the policy engine (or the database behind it) raise `StageUnavailableError`
(503) when this service has none, with the same message every adapter shows.
"""

from __future__ import annotations

from chatguard.app.audit import Audit
from chatguard.app.decisions import Decisions
from chatguard.app.erasure import Erasure
from chatguard.app.feed import DecisionFeed
from chatguard.app.keys import ApiKeys
from chatguard.app.moderation import Moderation, UserRateGate
from chatguard.app.policies import Policies
from chatguard.app.review import Review
from chatguard.app.stage_calls import StageCalls
from chatguard.app.stats import Stats
from chatguard.app.users import Users
from chatguard.app.webhooks import Webhooks
from chatguard.auth import ApiKeyStore, Authenticator
from chatguard.decisions import PolicyEngine
from chatguard.errors import StageUnavailableError
from chatguard.service import ModerationService


class Application:
    def __init__(
        self,
        *,
        service: ModerationService,
        authenticator: Authenticator | None = None,
        user_rates: UserRateGate | None = None,
    ) -> None:
        """`authenticator`: this process's, told about key changes (and whose key store the
        key admin uses); `user_rates`: the per chat user rate limits of moderation (None:
        none)."""
        self.service = service
        self.moderation = Moderation(service=service, user_rates=user_rates)
        self.stats = Stats(service=service)
        self.feed = DecisionFeed(events=service.events)
        self.stage_calls = StageCalls(service=service)
        self._authenticator = authenticator

    @property
    def engine(self) -> PolicyEngine:
        """The policy engine of this service (503 without one)."""
        if self.service.policy is None:
            raise StageUnavailableError("the decision handler is not configured in this service")
        return self.service.policy

    @property
    def decisions(self) -> Decisions:
        return Decisions(service=self.service, engine=self.engine)

    @property
    def policies(self) -> Policies:
        return Policies(store=self.engine.policies)

    @property
    def review(self) -> Review:
        queue = self.engine.reviews
        if queue is None:
            raise StageUnavailableError("the review queue needs a database")
        return Review(queue=queue)

    @property
    def audit(self) -> Audit:
        log = self.engine.audit
        if log is None:
            raise StageUnavailableError("the audit log needs a database")
        return Audit(log=log)

    @property
    def users(self) -> Users:
        engine = self.engine
        return Users(policies=engine.policies, strikes=engine.strikes, clock=engine.clock)

    @property
    def erasure(self) -> Erasure:
        return Erasure(
            store=self.service.store, audit=self.engine.audit, channels=self.service.channels
        )

    @property
    def keys(self) -> ApiKeys:
        audit = self.engine.audit
        store = self._key_store()
        return ApiKeys(store=store, audit=audit, authenticator=self._authenticator)

    @property
    def webhooks(self) -> Webhooks:
        engine = self.engine
        return Webhooks(repository=engine.repository, sender=engine.webhooks)

    def _key_store(self) -> ApiKeyStore | None:
        if self._authenticator is not None:
            return self._authenticator.store
        store = self.service.store
        return ApiKeyStore(engine=store.engine) if store is not None else None
