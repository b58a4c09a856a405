"""`chatguard up`'s plan (ports, each role's environment) and its refusals; the topology
itself runs in test_up_topology.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatguard.cli.up import chosen_roles, port_overrides
from chatguard.config import load_settings
from chatguard.roles import ROLES, UnknownRoleError
from chatguard.roles.supervisor import plan_roles, role_port
from tests.conftest import free_port

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))


def test_ports_follow_the_original_layout_from_the_base_port() -> None:
    assert {r: role_port(r, 8000) for r in ROLES} == {
        "api": 8000,
        "filter": 8001,
        "simulator": 8002,
        "decision": 8003,
        "evaluator": 8004,
        "llm-worker": 8005,
    }
    assert role_port("decision", 19000) == 19003


def test_the_api_role_is_told_where_its_peers_listen(tmp_path: Path) -> None:
    env = {
        "FILTER_ENDPOINT": "http://elsewhere:1",
        "DATABASE_URL": "postgresql://db/x",
        "LLM_ENDPOINT": "http://127.0.0.1:8080/v1",
    }
    plans = plan_roles(
        ["api", "filter", "decision", "simulator"],
        host="127.0.0.1",
        base_port=9000,
        env=env,
        state_dir=tmp_path,
        ports={"simulator": 9100},
    )
    by_role = {p.role: p for p in plans}
    assert [p.role for p in plans][-1] == "api"  # started after the roles it calls
    api = by_role["api"].env
    assert api["FILTER_ENDPOINT"] == "http://127.0.0.1:9001"
    assert api["DECISION_ENDPOINT"] == "http://127.0.0.1:9003"
    assert "LLM_WORKER_ENDPOINT" not in api  # not started: the api runs without it
    assert api["LLM_ENDPOINT"] == "http://127.0.0.1:8080/v1"  # no worker: the api calls it
    [worker_api] = [
        p
        for p in plan_roles(
            ["api", "llm-worker"], host="127.0.0.1", base_port=9000, env=env, state_dir=tmp_path
        )
        if p.role == "api"
    ]
    assert worker_api.env["LLM_WORKER_ENDPOINT"] == "http://127.0.0.1:9005"
    assert "LLM_ENDPOINT" not in worker_api.env
    assert "FILTER_ENDPOINT" not in by_role["filter"].env
    assert by_role["simulator"].port == 9100
    assert all(p.env["DATABASE_URL"] == "postgresql://db/x" for p in plans)
    spools = {p.env["SPOOL_PATH"] for p in plans}
    assert len(spools) == len(plans)  # each role its own spool file
    assert by_role["filter"].command()[-6:] == [
        "--role",
        "filter",
        "--host",
        "127.0.0.1",
        "--port",
        "9001",
    ]


def test_roles_are_chosen_by_name() -> None:
    settings = load_settings(_env_file=None)
    assert "llm-worker" not in chosen_roles("", settings)  # no LLM_ENDPOINT
    with_llm = load_settings(llm_endpoint="http://127.0.0.1:9/v1", _env_file=None)
    assert chosen_roles("", with_llm) == list(ROLES)
    assert chosen_roles("filter, api", settings) == ["filter", "api"]
    with pytest.raises(UnknownRoleError, match="unknown role 'web'"):
        chosen_roles("api,web", settings)
    with pytest.raises(ValueError, match="needs LLM_ENDPOINT"):
        chosen_roles("llm-worker", settings)
    assert port_overrides(["filter=9001"]) == {"filter": 9001}
    with pytest.raises(ValueError, match="ROLE=PORT"):
        port_overrides(["filter:9001"])


def up(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [CHATGUARD, "up", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=cwd,
    )


def test_up_needs_postgresql_and_redis(tmp_path: Path) -> None:
    sqlite = up(
        env={"DATABASE_URL": "sqlite:///x.db", "REDIS_URL": "redis://127.0.0.1:1/0"}, cwd=tmp_path
    )
    assert sqlite.returncode == 2
    assert "DATABASE_URL must name PostgreSQL" in sqlite.stderr
    no_redis = up(env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, cwd=tmp_path)
    assert no_redis.returncode == 2
    assert "REDIS_URL must be set" in no_redis.stderr
    away = up(
        env={
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/x",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
        },
        cwd=tmp_path,
    )
    assert away.returncode == 2
    assert "PostgreSQL at DATABASE_URL does not answer" in away.stderr


def test_up_refuses_a_port_in_use(tmp_path: Path, postgres_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = up(
            "--roles",
            "filter",
            "--port",
            f"filter={port}",
            env={"DATABASE_URL": postgres_url, "REDIS_URL": "redis://127.0.0.1:6379/15"},
            cwd=tmp_path,
        )
    assert result.returncode == 2
    assert f"ports in use: {port} (filter)" in result.stderr


def test_serve_refuses_what_it_would_ignore(tmp_path: Path) -> None:
    def serve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CHATGUARD, "serve", *args, "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
            cwd=tmp_path,
        )

    worker = serve("--role", "llm-worker", env={"LLM_ENDPOINT": ""})
    assert worker.returncode == 2
    assert "the llm-worker role needs LLM_ENDPOINT" in worker.stderr
    mcp = serve(env={"MCP_ENDPOINT": "http://127.0.0.1:9000"})
    assert mcp.returncode == 2
    assert "MCP_ENDPOINT: is no longer read" in mcp.stderr
