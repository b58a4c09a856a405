"""The settings of the distributed shape: nothing is accepted and then ignored."""

from __future__ import annotations

import pytest

from chatguard.config import load_settings, secret_settings
from chatguard.errors import ConfigurationError


def test_mcp_endpoint_is_refused_with_a_reason() -> None:
    with pytest.raises(ConfigurationError, match=r"MCP_ENDPOINT: is no longer read.*/mcp"):
        load_settings(mcp_endpoint="http://127.0.0.1:9000", _env_file=None)
    assert load_settings(mcp_endpoint="", _env_file=None).mcp_endpoint is None


@pytest.mark.parametrize("field", ["filter_endpoint", "decision_endpoint", "llm_worker_endpoint"])
def test_role_endpoints_are_urls(field: str) -> None:
    with pytest.raises(ConfigurationError, match=field.upper()):
        load_settings(**{field: "filter:8001"}, _env_file=None)


def test_an_llm_worker_keeps_the_llm_stage_without_a_local_llm() -> None:
    assert "llm" not in load_settings(_env_file=None).stage_names
    worker = load_settings(llm_worker_endpoint="http://127.0.0.1:8005", _env_file=None)
    assert worker.stage_names[-1] == "llm"


def test_the_service_key_is_secret() -> None:
    assert "service_api_key" in secret_settings()
    settings = load_settings(service_api_key="s" * 40, _env_file=None)
    assert "s" * 40 not in repr(settings)
