"""The versioned default policy and its named presets (`defaults.yaml`), and how a channel's
stored override is resolved against them: base, then the named preset, then the override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatguard.decisions.policy import ChannelPolicy, parse_policy
from chatguard.errors import ConfigurationError, InvalidPolicyError

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")
PRESET_KEY = "preset"
DEFAULT_PRESET = "default"


@dataclass(frozen=True, slots=True)
class Presets:
    """The default policy file: its version, the base every preset starts from, the presets."""

    version: int
    base: Mapping[str, Any]
    presets: Mapping[str, Mapping[str, Any]]

    @property
    def names(self) -> list[str]:
        return sorted(self.presets)

    def resolve(self, override: Mapping[str, Any] | None = None) -> ChannelPolicy:
        """The policy for a channel override such as `{"preset": "gaming", "fail_mode": "hold"}`.
        Mappings merge key by key; lists and values replace."""
        document = dict(override or {})
        name = document.pop(PRESET_KEY, DEFAULT_PRESET)
        if not isinstance(name, str) or name not in self.presets:
            raise InvalidPolicyError(
                f"invalid policy: preset: unknown preset {name!r}; known: {', '.join(self.names)}"
            )
        merged = deep_merge(deep_merge(self.base, self.presets[name]), document)
        merged.setdefault("name", name)
        return parse_policy(merged)


#: Keys that replace each other: a category given `thresholds` drops the level it inherited.
EXCLUSIVE = {"level": "thresholds", "thresholds": "level"}


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, partner in EXCLUSIVE.items():
        if key in top and partner not in top:
            merged.pop(partner, None)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_presets(path: Path = DEFAULTS_PATH) -> Presets:
    """Read and check the default policy file; every preset must resolve, or nothing starts."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"policy defaults {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"policy defaults {path}: expected a mapping at the top")
    version, base, presets = raw.get("version"), raw.get("base"), raw.get("presets")
    if not isinstance(version, int) or not isinstance(base, dict) or not isinstance(presets, dict):
        raise ConfigurationError(
            f"policy defaults {path}: needs an integer `version`, a `base` and `presets` mapping"
        )
    if DEFAULT_PRESET not in presets:
        raise ConfigurationError(f"policy defaults {path}: presets: needs a `default` preset")
    loaded = Presets(version=version, base=base, presets={k: v or {} for k, v in presets.items()})
    for name in loaded.names:
        try:
            loaded.resolve({PRESET_KEY: name})
        except InvalidPolicyError as exc:
            raise ConfigurationError(f"policy defaults {path}: presets.{name}: {exc}") from None
    return loaded
