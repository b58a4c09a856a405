"""`chatguard check-llm` against the fake server, and against nothing."""

from __future__ import annotations

import pytest

from chatguard.cli import main
from tests.support.fake_llm import FakeLLMServer


def test_lists_models_and_judges_a_test_message(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.reset(default="think_no_open")
    assert main(["check-llm", "--endpoint", fake.url]) == 0
    out = capsys.readouterr().out
    assert "models:     deepseek-ai/DeepSeek-R1-Distill-Llama-8B" in out
    assert "completion: ok in" in out and "prompt +" in out
    assert "verdict:    clean" in out
    [request] = fake.completions
    assert request.ids == ["m1"]


def test_a_flagged_test_message_shows_its_scores(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-llm", "--endpoint", fake.url, "--text", "you idiot"]) == 0
    assert "verdict:    {'harassment': 0.95}" in capsys.readouterr().out


def test_a_model_the_endpoint_does_not_serve_is_a_warning(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-llm", "--endpoint", fake.url, "--model", "other/model"]) == 0
    assert "warning:    LLM_MODEL 'other/model' is not among them" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param(("garbage", "garbage"), "completion: FAILED", id="unusable-answer"),
        pytest.param(("500", "500", "500"), "completion: FAILED", id="server-errors"),
    ],
)
def test_a_failing_completion_exits_non_zero(
    fake: FakeLLMServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    script: tuple[str, ...],
    expected: str,
) -> None:
    monkeypatch.setenv("LLM_MAX_RETRIES", "2")
    fake.script(*script)
    assert main(["check-llm", "--endpoint", fake.url]) == 1
    assert expected in capsys.readouterr().out


def test_nothing_listening_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-llm", "--endpoint", "http://127.0.0.1:9/v1"]) == 1
    assert "models:     FAILED" in capsys.readouterr().out


def test_no_endpoint_configured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_ENDPOINT", raising=False)
    assert main(["check-llm"]) == 2
    assert "LLM_ENDPOINT is not set" in capsys.readouterr().err
