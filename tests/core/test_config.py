import pytest

from chatguard.config import load_settings
from chatguard.errors import ConfigurationError


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LLM_TIMEOUT", "soon"),
        ("LLM_MAX_RETRIES", "-1"),
        ("DATABASE_URL", "mysql://x"),
        ("LLM_ENDPOINT", "localhost:8080"),
        ("LOG_LEVEL", "LOUD"),
        ("ENABLE_METRICS", "perhaps"),
    ],
    ids=[
        "timeout-not-a-number",
        "negative-retries",
        "unsupported-db",
        "url-without-scheme",
        "log-level",
        "bool",
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("http://gpu:8080/v1/chat/completions", "http://gpu:8080/v1"),
        ("http://gpu:8080/v1", "http://gpu:8080/v1"),
        ("http://gpu:8080", "http://gpu:8080/v1"),
        ("https://llm.example/openai/v1/", "https://llm.example/openai/v1"),
    ],
    ids=["full-completions-url", "base-url", "host-only", "prefixed"],
)
def test_llm_endpoint_accepts_full_or_base_urls(endpoint: str, base: str) -> None:
    assert load_settings(_env_file=None, llm_endpoint=endpoint).llm_base_url == base


def test_plain_database_urls_get_async_drivers() -> None:
    s = load_settings(_env_file=None, database_url="postgresql://u@h:5432/db")
    assert s.database_url == "postgresql+asyncpg://u@h:5432/db"


def test_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("LLM_MODEL=deepseek-r1\nLLM_TIMEOUT=3\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert (settings.llm_model, settings.llm_timeout) == ("deepseek-r1", 3.0)


def test_llm_stage_is_off_without_an_endpoint() -> None:
    settings = load_settings(_env_file=None, pipeline_stages="rules,llm")
    assert settings.stage_names == ["rules"]


def test_env_example_is_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    settings = load_settings(_env_file=str(example))
    assert settings.llm_endpoint is None
    assert settings.database_url.startswith("sqlite+aiosqlite")
