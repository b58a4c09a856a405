"""Authentication and authorization of HTTP and WebSocket requests.

`Access` resolves the `Principal` of a request from pluggable credential sources, tried in
order (the first that finds its credential decides):

- `BearerHeader`: `Authorization: Bearer <key>`, for every client that can set headers;
- `BearerSubprotocol`: the key offered as the WebSocket subprotocol `bearer.<key>`, since
  browsers cannot set headers on a WebSocket.

A web console adds a session source here (a cookie naming a server-side session, with a CSRF
token checked on unsafe methods) that resolves to a `Principal` with the same scopes; nothing
downstream changes. Until the first key is made (open local mode) no credential is read: a
local caller gets the open mode's principal, any other caller a 401.

Routes declare what they need with the aliases `IngestPrincipal`, `ModeratorPrincipal` and
`AdminPrincipal`; the principal's owner is the actor recorded for what the request does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Protocol
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from chatguard.auth import Authenticator, Principal, Scope, require_scope
from chatguard.auth.authenticator import is_loopback, local_principal
from chatguard.config import Settings
from chatguard.errors import AuthenticationError
from chatguard.ratelimit import RateLimiter

log = logging.getLogger(__name__)

#: The WebSocket subprotocol carrying a key: `bearer.<key>`.
SUBPROTOCOL_PREFIX = "bearer."
#: The subprotocol the server answers with when a client offers it (browsers require the
#: server to pick one of the offered subprotocols; it never picks the one holding the key).
WS_SUBPROTOCOL = "chatguard.v1"


class CredentialSource(Protocol):
    async def resolve(
        self, connection: HTTPConnection, authenticator: Authenticator
    ) -> Principal | None:
        """The principal of this source's credential; None when the request carries none;
        AuthenticationError when it carries one that does not verify."""
        ...


class BearerHeader:
    async def resolve(
        self, connection: HTTPConnection, authenticator: Authenticator
    ) -> Principal | None:
        header = connection.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("send the key as `Authorization: Bearer <key>`")
        return await authenticator.authenticate(token.strip())


class BearerSubprotocol:
    async def resolve(
        self, connection: HTTPConnection, authenticator: Authenticator
    ) -> Principal | None:
        if connection.scope["type"] != "websocket":
            return None
        for offered in connection.scope.get("subprotocols", ()):
            if offered.startswith(SUBPROTOCOL_PREFIX):
                return await authenticator.authenticate(offered[len(SUBPROTOCOL_PREFIX) :])
        return None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Access:
    """The gate every protected operation passes: who is calling, may they, and not too often."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        limiter: RateLimiter,
        settings: Settings,
        sources: Sequence[CredentialSource] = (BearerHeader(), BearerSubprotocol()),
    ) -> None:
        self.authenticator = authenticator
        self.limiter = limiter
        self.settings = settings
        self.sources = tuple(sources)
        self.origins = frozenset(settings.cors_origin_list)

    async def principal(self, connection: HTTPConnection) -> Principal:
        if not await self.authenticator.keys_exist():
            # Open local mode: no key can verify, so none is asked for (the OpenAI SDKs send
            # a placeholder); only where the request comes from counts.
            if self.is_local_caller(connection):
                return local_principal()
            raise AuthenticationError(
                "no API keys exist yet: this server answers local callers only; "
                "make a key with `chatguard keys create`"
            )
        for source in self.sources:
            principal = await source.resolve(connection, self.authenticator)
            if principal is not None:
                return principal
        raise AuthenticationError("an API key is required: send `Authorization: Bearer <key>`")

    async def admit(self, connection: HTTPConnection, scope: Scope) -> Principal:
        """The principal, if it holds `scope` and is within its rate; else 401, 403 or 429."""
        principal = await self.principal(connection)
        require_scope(principal, scope)
        await self.limiter.check_caller(
            self.caller_id(connection, principal), rate_per_s=principal.rate_per_s
        )
        return principal

    def caller_id(self, connection: HTTPConnection, principal: Principal) -> str:
        if principal.key_id is not None:
            return f"key:{principal.key_id}"
        if principal.is_local:
            return f"addr:{connection.client.host if connection.client else '-'}"
        return f"owner:{principal.owner}"

    def is_local_caller(self, connection: HTTPConnection) -> bool:
        """Open local mode trusts a caller on this machine: a loopback client address and, for
        a browser (a request with `Origin` or `Sec-Fetch-Site`), a loopback Host and a loopback
        or allowed Origin too. The Host check stops a web page that reaches 127.0.0.1 through
        a DNS name rebound to it; the Origin check stops other sites' pages."""
        client = connection.client
        if client is None or not is_loopback(client.host):
            return False
        headers = connection.headers
        origin = headers.get("origin")
        if origin is None and "sec-fetch-site" not in headers:
            return True  # not a browser: curl, SDKs, connectors on this machine
        host = urlsplit("//" + headers.get("host", "")).hostname or ""
        if not is_loopback(host):
            return False
        if origin is None:
            return True
        return origin.lower() in self.origins or is_loopback(urlsplit(origin).hostname or "")

    def origin_allowed(self, connection: HTTPConnection) -> bool:
        """A WebSocket's Origin: absent (not a browser) or in CORS_ORIGINS."""
        origin = connection.headers.get("origin")
        return origin is None or origin.lower().rstrip("/") in self.origins


def access_of(connection: HTTPConnection) -> Access:
    access: Access = connection.app.state.access
    return access


# Declares the bearer scheme in the OpenAPI document (the lock in /docs); `Access` reads it.
bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="cg_<key id>_<secret>",
    description="An API key from `chatguard keys create` (or ADMIN_API_KEY).",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


async def _ingest(request: Request, _: Bearer) -> Principal:
    return await access_of(request).admit(request, Scope.INGEST)


async def _moderator(request: Request, _: Bearer) -> Principal:
    return await access_of(request).admit(request, Scope.MODERATOR)


async def _admin(request: Request, _: Bearer) -> Principal:
    return await access_of(request).admit(request, Scope.ADMIN)


async def _metrics(request: Request, _: Bearer) -> None:
    access = access_of(request)
    if access.settings.metrics_require_key:
        await access.principal(request)


IngestPrincipal = Annotated[Principal, Depends(_ingest)]
ModeratorPrincipal = Annotated[Principal, Depends(_moderator)]
AdminPrincipal = Annotated[Principal, Depends(_admin)]
MetricsAccess = Depends(_metrics)
