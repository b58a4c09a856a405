"""How this process calls another role: `ROLE_TRANSPORT` picks the transport."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatguard.roles.streams import StreamRoleTransport, call_bus
from chatguard.roles.transport import HttpRoleTransport, RoleTransport

if TYPE_CHECKING:
    from chatguard.config import Settings


def role_transport(settings: Settings, *, target: str, role: str, base_url: str) -> RoleTransport:
    """How this process calls `role` (at `base_url`): over HTTP, or (`ROLE_TRANSPORT=redis`)
    through the role's work stream on Redis, its health still asked over HTTP."""
    if settings.role_transport == "redis":
        return StreamRoleTransport.from_settings(
            settings, target=target, role=role, base_url=base_url, bus=call_bus(settings)
        )
    return HttpRoleTransport.from_settings(settings, target=target, base_url=base_url)
