"""A configuration error names the setting and never shows a secret's value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatguard.config import load_settings, secret_settings
from chatguard.errors import ConfigurationError

SECRET = "hunter2-xyzzy"  # shorter than the 16 characters webhooks need


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        pytest.param(
            {"webhook_urls": "https://hooks.example/x", "webhook_secret": SECRET},
            "WEBHOOK_SECRET",
            id="webhook-secret-too-short",
        ),
        pytest.param({"llm_api_key": [SECRET]}, "LLM_API_KEY", id="llm-api-key-wrong-type"),
        pytest.param(
            {"database_url": f"mysql://bob:{SECRET}@db/chat"}, "DATABASE_URL", id="url-password"
        ),
        pytest.param(
            {"redis_url": f"http://:{SECRET}@cache:6379"}, "REDIS_URL", id="redis-password"
        ),
    ],
)
def test_the_error_names_the_setting_but_not_the_secret(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as failed:
        load_settings(_env_file=None, **overrides)
    assert named in str(failed.value)
    assert SECRET not in str(failed.value)


def test_other_values_are_still_shown() -> None:
    with pytest.raises(ConfigurationError) as failed:
        load_settings(_env_file=None, log_level="LOUD")
    assert "(got 'LOUD')" in str(failed.value)


def test_every_secret_str_setting_counts_as_secret() -> None:
    assert {"webhook_secret", "llm_api_key"} <= secret_settings()


def test_the_command_line_does_not_echo_the_secret(tmp_path: Path) -> None:
    chatguard = str(Path(sys.executable).with_name("chatguard"))
    env = {**os.environ, "WEBHOOK_URLS": "https://hooks.example/x", "WEBHOOK_SECRET": SECRET}
    result = subprocess.run(
        [chatguard, "moderate", "hi"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "WEBHOOK_SECRET" in result.stderr
    assert SECRET not in result.stderr + result.stdout
