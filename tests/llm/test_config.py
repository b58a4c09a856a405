"""The LLM settings: defaults, validation that names the variable."""

from __future__ import annotations

import pytest

from chatguard.config import load_settings
from chatguard.errors import ConfigurationError


def test_defaults() -> None:
    settings = load_settings(llm_endpoint="http://localhost:8080")
    assert settings.llm_base_url == "http://localhost:8080/v1"
    assert (settings.llm_batch_size, settings.llm_concurrency) == (32, 8)
    assert settings.llm_fail_mode == "hold" and settings.llm_deadline_ms == 2000
    assert settings.llm_system_prompt is False and settings.llm_json_schema is True
    assert settings.llm_temperature == 0.6


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        pytest.param("LLM_FAIL_MODE", "maybe", "LLM_FAIL_MODE", id="fail-mode"),
        pytest.param("LLM_BATCH_SIZE", "0", "LLM_BATCH_SIZE", id="batch-size"),
        pytest.param("LLM_CONCURRENCY", "-1", "LLM_CONCURRENCY", id="concurrency"),
        pytest.param("LLM_TEMPERATURE", "3", "LLM_TEMPERATURE", id="temperature"),
        pytest.param("LLM_DEADLINE_MS", "soon", "LLM_DEADLINE_MS", id="deadline"),
        pytest.param("LLM_JSON_SCHEMA", "perhaps", "LLM_JSON_SCHEMA", id="json-schema"),
    ],
)
def test_bad_values_refuse_to_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=named):
        load_settings()


def test_fail_mode_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_FAIL_MODE", " Open ")
    assert load_settings().llm_fail_mode == "open"
