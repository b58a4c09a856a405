"""The `chatguard` console script, run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        [CHATGUARD, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_moderate_prints_the_decision(tmp_path: Path) -> None:
    result = run("moderate", "just kill yourself", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "action:     delete" in result.stdout
    assert "harassment/threatening" in result.stdout


def test_moderate_json_is_one_object(tmp_path: Path) -> None:
    result = run("moderate", "--json", "hello chat", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["action"] == "allow"


def test_invalid_configuration_names_the_variable(tmp_path: Path) -> None:
    result = run("moderate", "hi", env={"LLM_TIMEOUT": "never"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "LLM_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_comes_up_and_moderates(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    process = subprocess.Popen(
        [CHATGUARD, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.1)
        response = httpx.post(
            f"http://127.0.0.1:{port}/moderate",
            json={"message": "kys", "user_id": "u", "channel_id": "c"},
        )
        assert response.json()["action"] == "delete"
        assert (tmp_path / "serve.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
