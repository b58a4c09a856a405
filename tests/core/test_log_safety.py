"""Log records escape control characters: an id cannot forge a log line. Exceptions are
described without their messages."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from chatguard.decisions.audit import AuditLog
from chatguard.decisions.repository import DecisionRepository
from chatguard.log_safety import (
    describe_exception,
    escape_controls,
    install_log_escaping,
    uninstall_log_escaping,
)
from chatguard.storage import SqlStore

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # configure_logging's


@pytest.fixture
def escaping() -> Iterator[None]:
    install_log_escaping()
    yield
    uninstall_log_escaping()


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        pytest.param("plain id", "plain id", id="plain"),
        pytest.param("u\r\nFAKE", "u\\r\\nFAKE", id="crlf"),
        pytest.param("a\x00b\x1b[31m", "a\\x00b\\x1b[31m", id="nul-and-escape"),
        pytest.param("tab\tstays", "tab\tstays", id="tab"),
        pytest.param("c1\x85 del\x7f", "c1\\x85 del\\x7f", id="c1-and-del"),
        pytest.param("line\u2028sep", "line\\u2028sep", id="unicode-line-separator"),
        pytest.param("lone\ud800", "lone\\ud800", id="lone-surrogate"),
        pytest.param("émoji 😀", "émoji 😀", id="printable-unicode"),
    ],
)
def test_escape_controls(text: str, escaped: str) -> None:
    assert escape_controls(text) == escaped


async def test_a_forged_id_stays_on_one_log_line(sqlite_url: str, escaping: None) -> None:
    """An adapter that does not check ids (a connector, a script) still cannot forge a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("chatguard.decisions.audit")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    store = SqlStore(sqlite_url)
    await store.start()
    try:
        audit = AuditLog(repository=DecisionRepository(engine=store.engine))
        await audit.record(
            actor="mod\r\nFAKE 2026-01-01 INFO chatguard admin granted",
            action="policy.update",
            channel_id="lobby\nFAKE",
            user_id="u\r\nFAKE",
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        await store.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "mod\\r\\nFAKE" in lines[0] and "lobby\\nFAKE" in lines[0]


def test_numbers_keep_their_format(caplog: pytest.LogCaptureFixture, escaping: None) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("chatguard.test").info("%d rows in %.1f s for %s", 3, 0.25, "a\nb")
    assert caplog.records[-1].getMessage() == "3 rows in 0.2 s for a\\nb"


def test_an_exception_is_described_without_its_message() -> None:
    def fail() -> None:
        try:
            raise KeyError("private text of a message")
        except KeyError as exc:
            raise RuntimeError("more private text") from exc

    with pytest.raises(RuntimeError) as raised:
        fail()
    described = describe_exception(raised.value)
    assert "builtins.RuntimeError" in described and "builtins.KeyError" in described
    assert "test_log_safety.py" in described
    assert "private" not in described
