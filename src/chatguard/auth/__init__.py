"""Who may call chatguard: API keys, their scopes and the principal a request acts as.

Free of any web framework: the HTTP adapter (`chatguard.api.security`) reads credentials from
requests and hands them to the `Authenticator`; the CLI manages keys through `ApiKeyStore`.
"""

from chatguard.auth.authenticator import Authenticator
from chatguard.auth.keys import ApiKey, NewKey
from chatguard.auth.principal import (
    LOCAL_OWNER,
    Principal,
    require_role_assertion,
    require_scope,
)
from chatguard.auth.scopes import Scope, expand_scopes
from chatguard.auth.store import ApiKeyStore

__all__ = [
    "LOCAL_OWNER",
    "ApiKey",
    "ApiKeyStore",
    "Authenticator",
    "NewKey",
    "Principal",
    "Scope",
    "expand_scopes",
    "require_role_assertion",
    "require_scope",
]
