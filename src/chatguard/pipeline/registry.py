"""The explicit registry of stage classes, and building stages from configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chatguard.errors import UnknownStageError

if TYPE_CHECKING:
    from chatguard.config import Settings
    from chatguard.pipeline.stage import Stage

S = TypeVar("S", bound="type[Stage]")

#: name -> factory(settings) -> Stage
_FACTORIES: dict[str, Callable[[Settings], Stage]] = {}


def register_stage(name: str, factory: Callable[[Settings], Stage]) -> None:
    """Register how to build the stage called `name` from settings."""
    if name in _FACTORIES:
        raise ValueError(f"stage {name!r} is already registered")
    _FACTORIES[name] = factory


def registered_stages() -> list[str]:
    _load_shipped_stages()
    return sorted(_FACTORIES)


def build_stage(name: str, settings: Settings, **_: Any) -> Stage:
    """Build the stage called `name`; an unknown name raises `UnknownStageError`."""
    _load_shipped_stages()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        known = ", ".join(sorted(_FACTORIES)) or "none"
        raise UnknownStageError(f"unknown stage {name!r}; known stages: {known}") from None
    return factory(settings)


def _load_shipped_stages() -> None:
    # Importing the package registers every stage that ships with chatguard.
    import chatguard.stages  # noqa: F401
