"""Services made by a test, each on a SQLite file of its own, closed when the test ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatguard.config import load_settings
from chatguard.service import ModerationService


class Services:
    """Makes `ModerationService`s for one test and closes them all afterwards."""

    def __init__(self, folder: Path, *, name: str = "chatguard", **defaults: Any) -> None:
        self._folder = folder
        self._name = name
        self._defaults = defaults
        self.made: list[ModerationService] = []

    def next_database_url(self) -> str:
        return f"sqlite:///{self._folder}/{self._name}-{len(self.made)}.db"

    def settings(self, **overrides: Any) -> Any:
        """The settings of the next service: the defaults, a fresh database, the overrides."""
        options: dict[str, Any] = {
            **self._defaults,
            "database_url": self.next_database_url(),
            "_env_file": None,
        }
        options.update(overrides)
        return load_settings(**options)

    def add(self, service: ModerationService) -> ModerationService:
        self.made.append(service)
        return service

    def from_settings(self, **overrides: Any) -> ModerationService:
        return self.add(ModerationService.from_settings(self.settings(**overrides)))

    async def close(self) -> None:
        for service in self.made:
            await service.close()
