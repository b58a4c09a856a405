"""Chat connectors: read a platform's chat, moderate every message, enforce the decisions."""

from chatguard.connectors.base import ChatConnector, ModerationLoop

__all__ = ["ChatConnector", "ModerationLoop"]
