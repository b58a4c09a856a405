"""Each role's app: `/health` and `/metrics` answer, and each serves its own routes only."""

from __future__ import annotations

from typing import Any

import pytest

from chatguard.api.roles import create_role_app, role_settings
from chatguard.errors import ConfigurationError
from chatguard.roles import ROLES
from tests.roles.conftest import SettingsFactory, in_process
from tests.support.fake_llm import FakeLLMServer

#: Per role: the stages its /health lists, a route it serves and one it does not.
EXPECTED: dict[str, tuple[list[str], tuple[str, str], tuple[str, str]]] = {
    "api": (["filter", "classifier"], ("POST", "/moderate"), ("POST", "/filter")),
    "filter": (["filter"], ("POST", "/filter"), ("POST", "/moderate")),
    "llm-worker": (["classifier", "llm"], ("POST", "/adjudicate"), ("POST", "/moderate")),
    "decision": ([], ("POST", "/decide"), ("POST", "/moderate")),
    "simulator": ([], ("GET", "/"), ("POST", "/moderate")),
    "evaluator": ([], ("GET", "/"), ("POST", "/moderate")),
}


def _routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every operation the app documents."""
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_answers_health_and_metrics(
    role: str, role_settings: SettingsFactory, fake_llm: FakeLLMServer
) -> None:
    settings = role_settings(llm_endpoint=fake_llm.url if role == "llm-worker" else None)
    app = create_role_app(role, settings)
    stages, served, not_served = EXPECTED[role]
    routes = _routes(app)
    assert served in routes
    assert not_served not in routes
    async with in_process(app) as client:
        health = await client.get("/health")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "ok"
        assert body["stages"] == stages
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert "chatguard_component_up" in metrics.text


@pytest.mark.parametrize("role", ["simulator", "evaluator"])
async def test_shell_roles_name_themselves(role: str, role_settings: SettingsFactory) -> None:
    async with in_process(create_role_app(role, role_settings())) as client:
        index = (await client.get("/")).json()
    assert index["role"] == role
    assert "/health" in index["endpoints"]


def test_llm_worker_needs_an_llm(role_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigurationError, match="LLM_ENDPOINT"):
        create_role_app("llm-worker", role_settings())


def test_filter_role_needs_a_filter_stage(role_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigurationError, match="no stage to serve"):
        role_settings_of("filter", role_settings(pipeline_stages="classifier"))


def test_roles_other_than_api_call_no_peer_and_sweep_no_text(
    role_settings: SettingsFactory,
) -> None:
    settings = role_settings(
        filter_endpoint="http://127.0.0.1:1", decision_endpoint="http://127.0.0.1:2"
    )
    for role in ("filter", "decision", "simulator", "evaluator"):
        own = role_settings_of(role, settings)
        assert own.filter_endpoint is None and own.decision_endpoint is None
        assert own.retention_days == 0
    assert role_settings_of("api", settings).filter_endpoint == "http://127.0.0.1:1"


def test_api_role_leaves_decision_routes_to_the_decision_role(
    role_settings: SettingsFactory,
) -> None:
    alone = _routes(create_role_app("api", role_settings()))
    split = _routes(create_role_app("api", role_settings(decision_endpoint="http://127.0.0.1:9")))
    assert ("POST", "/decide") in alone
    assert ("POST", "/decide") not in split
    assert ("POST", "/moderate") in split


role_settings_of = role_settings


@pytest.mark.parametrize("role", ["filter", "decision", "simulator", "evaluator"])
async def test_a_role_beyond_loopback_needs_keys(role: str, role_settings: SettingsFactory) -> None:
    app = create_role_app(role, role_settings(bind_host="0.0.0.0"))
    with pytest.raises(ConfigurationError, match=r"refusing to serve on 0\.0\.0\.0"):
        async with in_process(app):
            pass


def test_only_the_api_role_finalises_what_an_earlier_run_left_provisional(
    role_settings: SettingsFactory,
) -> None:
    # The messages and their provisional decisions are the api role's; a restarted filter or
    # llm-worker finalising them too would decide a message twice.
    api = create_role_app("api", role_settings())
    assert api.state.service.keeper.recovery is not None
    for role in ("filter", "decision", "simulator", "evaluator"):
        app = create_role_app(role, role_settings())
        assert app.state.service.keeper.recovery is None, role
