"""`chatguard keys` on SQLite and PostgreSQL, and `chatguard serve`'s bind-address rule: on
0.0.0.0 it refuses to start until an admin key exists; on loopback without keys it runs open
and says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from chatguard.cli import main
from tests.cli.test_cli import CHATGUARD
from tests.conftest import free_port, port_answers


@pytest.fixture
def keys_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> object:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["keys", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_create_list_revoke(keys_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = keys_cli("create", "--owner", "anna", "--scope", "moderator")
    assert code == 0
    secret = next(line.split()[-1] for line in out.splitlines() if line.startswith("secret:"))
    assert secret.startswith("cg_") and "not shown again" in out
    code, out, _ = keys_cli(
        "create",
        "--owner",
        "irc-bot",
        "--scope",
        "ingest",
        "--assert-roles",
        "--rate",
        "50",
        "--json",
    )
    bot = json.loads(out)
    assert (bot["scopes"], bot["may_assert_roles"], bot["rate_per_s"]) == (["ingest"], True, 50)

    code, out, _ = keys_cli("list")
    assert code == 0 and "anna" in out and "irc-bot" in out and "active" in out
    assert secret not in out and bot["secret"] not in out and "cg_" not in out
    listed = json.loads(keys_cli("list", "--json")[1])
    assert {k["owner"] for k in listed} == {"anna", "irc-bot"}
    assert all("secret" not in k for k in listed)

    code, out, _ = keys_cli("revoke", bot["key_id"])
    assert code == 0 and "revoked" in out
    [revoked] = [k for k in json.loads(keys_cli("list", "--json")[1]) if k["revoked_at"]]
    assert revoked["key_id"] == bot["key_id"]


def test_mistakes_are_clear(keys_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = keys_cli("revoke", "000000000000")
    assert code == 1 and "no API key" in err
    code, _, err = keys_cli("create", "--owner", " ", "--scope", "admin")
    assert code == 1 and "owner" in err
    with pytest.raises(SystemExit):
        keys_cli("create", "--owner", "x", "--scope", "root")


def serve(host: str, port: int, tmp_path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PIPELINE_STAGES": "rules",
    }
    return subprocess.Popen(
        [CHATGUARD, "serve", "--host", host, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def keys(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [CHATGUARD, "keys", *args],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_until_up(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 90  # the machine may be busy: loading the app takes a while
    while not port_answers(port):
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=15)
    return out


@pytest.mark.slow
def test_serve_on_0000_refuses_without_an_admin_key(tmp_path: Path) -> None:
    process = serve("0.0.0.0", free_port(), tmp_path)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "refusing to serve on 0.0.0.0" in out
    assert "chatguard keys create --owner you --scope admin" in out
    keys(tmp_path, "create", "--owner", "bot", "--scope", "ingest")  # not an admin key
    process = serve("0.0.0.0", free_port(), tmp_path)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 2 and "no admin API key" in out


@pytest.mark.slow
def test_serve_on_0000_starts_with_an_admin_key_and_requires_keys(tmp_path: Path) -> None:
    out = keys(tmp_path, "create", "--owner", "ops", "--scope", "admin")
    secret = next(line.split()[-1] for line in out.splitlines() if line.startswith("secret:"))
    port = free_port()
    process = serve("0.0.0.0", port, tmp_path)
    try:
        wait_until_up(process, port)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/review").status_code == 401
        authorized = httpx.get(f"{url}/review", headers={"Authorization": f"Bearer {secret}"})
        assert authorized.status_code == 200
    finally:
        out = stop(process)
    assert secret not in out  # never logged


@pytest.mark.slow
def test_serve_on_loopback_without_keys_runs_open_and_warns(tmp_path: Path) -> None:
    port = free_port()
    process = serve("127.0.0.1", port, tmp_path)
    try:
        wait_until_up(process, port)
        body = {"message": "kys", "user_id": "u", "channel_id": "c"}
        assert httpx.post(f"http://127.0.0.1:{port}/moderate", json=body).status_code == 200
    finally:
        out = stop(process)
    assert "no API keys: open to local callers only" in out
