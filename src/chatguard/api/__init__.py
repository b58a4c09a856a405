"""The HTTP adapter (FastAPI): a thin layer over `ModerationService`."""

from chatguard.api.app import create_app

__all__ = ["create_app"]
