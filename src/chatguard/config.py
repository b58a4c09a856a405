"""One typed settings object, read from the environment and `.env`.

The variable names are the ones the original deployment guide used, so an existing `.env`
keeps working. An invalid value refuses to start with a message naming the variable.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core.core_schema import ValidationInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatguard.errors import ConfigurationError
from chatguard.log_safety import install_log_escaping

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./chatguard.db"


class Settings(BaseSettings):
    """Every setting chatguard reads. Environment variables override `.env`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # LLM adjudication (off unless LLM_ENDPOINT is set)
    llm_endpoint: str | None = Field(default=None, description="OpenAI-compatible URL")
    llm_model: str = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=10.0, gt=0, le=600)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_batch_size: int = Field(default=32, ge=1, le=256, description="messages per prompt")
    llm_batch_wait_ms: float = Field(default=20.0, ge=0, le=5000, description="batch fill time")
    llm_concurrency: int = Field(default=8, ge=1, le=1024, description="requests in flight")
    llm_temperature: float = Field(default=0.6, ge=0, le=2)
    llm_max_tokens: int = Field(default=4096, ge=16, le=200_000)
    llm_deadline_ms: float = Field(default=2000.0, ge=0, le=600_000, description="wait per message")
    llm_fail_mode: Literal["hold", "open", "closed"] = "hold"
    llm_cache_size: int = Field(default=10_000, ge=0, le=10_000_000, description="0 disables")
    llm_cache_ttl_s: int = Field(default=86_400, ge=1)
    llm_system_prompt: bool = False
    llm_json_schema: bool = True
    llm_context_messages: int = Field(default=10, ge=0, le=100)
    llm_max_lowering: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="share of an uncertain band the LLM may lower",
    )
    llm_strong_evidence: float = Field(
        default=0.6, ge=0, le=1, description="detector hit score the LLM may not clear alone"
    )
    llm_control: bool = Field(default=True, description="send a control message with each prompt")
    llm_format: Literal[
        "deepseek", "llama-guard-3", "llama-guard-4", "shieldgemma", "gpt-oss-safeguard"
    ] = Field(default="deepseek", description="the model's prompt and answer format")
    llm_breaker_failures: int = Field(default=5, ge=1, le=1000)
    llm_breaker_reset_s: float = Field(default=30.0, gt=0, le=3600)
    request_timeout: float = Field(default=30.0, gt=0, le=600)

    # Other roles' addresses in the distributed shape (docs/roles.md)
    filter_endpoint: str | None = Field(default=None, description="the filter role's URL")
    decision_endpoint: str | None = Field(default=None, description="the decision role's URL")
    llm_worker_endpoint: str | None = Field(default=None, description="the llm-worker role's URL")
    service_api_key: SecretStr | None = Field(
        default=None, description="the key sent as Bearer on calls to the other roles"
    )
    role_transport: Literal["http", "redis"] = Field(
        default="http",
        description="how the api role calls the others: HTTP, or work streams on Redis",
    )
    role_queue_maxlen: int = Field(
        default=1000, ge=1, le=10_000_000, description="calls waiting per role's work stream"
    )
    role_claim_idle_s: float = Field(
        default=10.0, gt=0, le=3600, description="a dead consumer's calls are claimed after"
    )
    # No longer read: refused at start so that nobody believes it does something.
    mcp_endpoint: str | None = None

    # State and transport
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    # The event bus (docs/events.md): in this process, or Redis Streams at REDIS_URL
    event_bus: Literal["memory", "redis"] = "memory"
    event_stream_prefix: str = Field(
        default="chatguard:events:", min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$"
    )
    event_stream_maxlen: int = Field(
        default=100_000, ge=10, le=100_000_000, description="entries kept per stream"
    )
    # Decisions made while the database is away wait in a local file (see docs/degradation.md)
    spool_path: str = Field(
        default="", description="spool file or directory; default: beside a SQLite database"
    )
    spool_max_messages: int = Field(
        default=100_000, ge=0, le=100_000_000, description="0: no spool (503 while the DB is away)"
    )

    # Behaviour
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    debug: bool = False
    enable_lightweight_filter: bool = True
    enable_whisper: bool = False
    enable_metrics: bool = True
    gc_young_threshold: int = Field(
        default=10_000,  # chatguard.runtime.SERVING_YOUNG_THRESHOLD
        ge=0,
        description="young-generation GC threshold of `chatguard serve` (0: CPython's default)",
    )
    pipeline_stages: str = Field(
        default="filter,classifier,llm", description="comma-separated stage names, cheapest first"
    )
    classifier_model: str | None = Field(
        default=None, description="classifier model directory; default: the shipped model"
    )
    semantic_model: str | None = Field(
        default=None, description="semantic artifact directory; default: the shipped one"
    )
    semantic_threads: int = Field(default=1, ge=1, le=64, description="encoder threads")
    semantic_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="the semantic stage's timeout per batch"
    )
    semantic_medium: bool = Field(
        default=True,
        description="blend medium-length messages too (false: long ones and the uncertain band)",
    )
    # Lightweight filter: where the spam windows live, and how PII is redacted
    spam_state: Literal["memory", "redis"] = "memory"
    pii_redaction: Literal["off", "label", "mask"] = "off"

    # Decision handler: signed webhooks for platform integrations
    webhook_urls: str = Field(default="", description="comma-separated URLs for decision events")
    webhook_secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key")

    # Access: API keys, the listening address, browser origins, rate limits (docs/security.md)
    admin_api_key: SecretStr | None = Field(
        default=None,
        description="a bootstrap admin key of 32+ characters, for deployments "
        "that cannot run `chatguard keys create` first",
    )
    bind_host: str = Field(
        default="127.0.0.1",
        description="the address the server listens on; `chatguard serve --host` sets it",
    )
    cors_origins: str = Field(
        default="", description="comma-separated browser origins allowed (CORS and WebSocket)"
    )
    metrics_require_key: bool = Field(default=False, description="GET /metrics needs any key")
    rate_limit_key_per_s: float = Field(default=500.0, ge=0, description="per key; 0 disables")
    rate_limit_key_burst: int = Field(default=1000, ge=0)
    rate_limit_user_per_s: float = Field(default=20.0, ge=0, description="per chat user")
    rate_limit_user_burst: int = Field(default=300, ge=0)
    rate_limit_prefix: str = Field(
        default="chatguard:ratelimit:", min_length=1, description="Redis key prefix"
    )
    # Retention: raw message text is deleted after this many days (0 keeps it forever)
    retention_days: int = Field(default=30, ge=0, le=36_500)
    retention_interval_s: float = Field(
        default=3600.0, ge=1, le=7 * 86_400, description="seconds between retention sweeps"
    )

    # Input limits
    max_message_chars: int = Field(default=4000, ge=1, le=1_000_000)
    max_batch_size: int = Field(default=1000, ge=1, le=100_000)
    batch_chunk_size: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="a larger batch is moderated in chunks of this many, taking fair turns",
    )
    batch_chunk_beside_others: int = Field(
        default=25,
        ge=1,
        le=100_000,
        description="chunk size while single requests or small batches are being moderated",
    )
    database_pool_size: int = Field(
        default=10, ge=1, le=1000, description="PostgreSQL connections kept open per process"
    )
    database_max_overflow: int = Field(
        default=10, ge=0, le=1000, description="PostgreSQL connections opened beyond the pool"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @field_validator("llm_fail_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("mcp_endpoint")
    @classmethod
    def _no_mcp_endpoint(cls, value: str | None) -> None:
        if value is not None and value.strip():
            raise ValueError(
                "is no longer read: the MCP server is to be served at /mcp on the api role "
                "itself; unset MCP_ENDPOINT"
            )
        return None

    @field_validator("service_api_key")
    @classmethod
    def _service_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("llm_endpoint", "filter_endpoint", "decision_endpoint", "llm_worker_endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as http://localhost:8080/v1")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        url = value.strip()
        # Accept the plain driver names users already have and pick the async drivers.
        for plain, async_ in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                url = async_ + url[len(plain) :]
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return url

    @field_validator("pipeline_stages")
    @classmethod
    def _stages(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if len(set(names)) != len(names):
            raise ValueError("a stage is listed twice")
        return ",".join(names)

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("event_bus")
    @classmethod
    def _event_bus(cls, value: str, info: ValidationInfo) -> str:
        # Declared after redis_url, so the URL is validated and in info.data already.
        if value == "redis" and not info.data.get("redis_url"):
            raise ValueError("redis needs REDIS_URL")
        return value

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls(cls, value: str) -> str:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("each must be an http(s) URL")
        return ",".join(urls)

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Declared after webhook_urls, so the URLs are validated and in info.data already.
        secret = value.get_secret_value() if value is not None else ""
        if info.data.get("webhook_urls") and len(secret) < 16:
            raise ValueError("webhooks need a secret of at least 16 characters")
        return value

    @field_validator("admin_api_key")
    @classmethod
    def _admin_api_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters (make one with `openssl rand -hex 32`)"
            )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        origins = []
        for raw in (o.strip() for o in value.split(",")):
            if not raw:
                continue
            parts = urlsplit(raw.rstrip("/"))
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError("each must be an origin such as https://console.example.org")
            origins.append(f"{parts.scheme}://{parts.netloc}".lower())
        return ",".join(origins)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o for o in self.cors_origins.split(",") if o]

    @property
    def webhook_url_list(self) -> list[str]:
        return [u for u in self.webhook_urls.split(",") if u]

    @cached_property
    def llm_base_url(self) -> str | None:
        """The base URL for the OpenAI SDK, whether LLM_ENDPOINT is a base or a full
        `.../chat/completions` URL."""
        if self.llm_endpoint is None:
            return None
        parts = urlsplit(self.llm_endpoint)
        path = parts.path.rstrip("/")
        for suffix in ("/chat/completions", "/completions"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        if not path.endswith("/v1") and "/v1/" not in path + "/":
            path = path + "/v1"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @property
    def stage_names(self) -> list[str]:
        names = [n for n in self.pipeline_stages.split(",") if n]
        if not self.enable_lightweight_filter:
            names = [n for n in names if n not in FILTER_STAGES]
        if self.llm_endpoint is None and self.llm_worker_endpoint is None:
            names = [n for n in names if n != "llm"]
        return names


#: Stages that make up the lightweight filter (switched off together by ENABLE_LIGHTWEIGHT_FILTER).
FILTER_STAGES = frozenset({"rules", "pii", "spam", "prompt_injection", "filter"})


#: Settings named like this are secret even when not typed `SecretStr`.
SECRET_SUFFIXES = ("_secret", "_key", "_keys", "_token", "_password")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@\s:]*:)[^/@\s]*@", re.IGNORECASE)


def secret_settings() -> frozenset[str]:
    """The settings whose values are secret: never shown in errors or logs."""
    return frozenset(
        name
        for name, field in Settings.model_fields.items()
        if _mentions_secret(field.annotation) or name.endswith(SECRET_SUFFIXES)
    )


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(arg) for arg in get_args(annotation))


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises `ConfigurationError` naming the variable. The value
    is shown too, except a secret's (and a URL's password), which never is."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        secret = secret_settings()
        problems = []
        for error in exc.errors():
            loc = error["loc"]
            field = ".".join(str(p) for p in loc) or "settings"
            shown = ""
            if loc and str(loc[0]) not in secret:
                shown = f" (got {_without_password(error.get('input'))!r})"
            problems.append(f"{field.upper()}: {error['msg'].removeprefix('Value error, ')}{shown}")
        raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None


def _without_password(value: object) -> object:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\g<head>***@", value)
    return value


def configure_logging(settings: Settings) -> None:
    """Log to stderr at LOG_LEVEL, one line a record (control characters in ids escaped)."""
    install_log_escaping()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # httpx logs every request at INFO: with calls between roles that is a line per message.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
