"""The layering holds in the source: adapters reach the core through the application layer,
the application layer imports no web framework, and nothing asks which kind of decider it has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "chatguard"
ADAPTERS = ("api", "connectors", "cli")
#: What an adapter must not touch: the decider, the policy engine's parts and the store's.
REACHING_IN = re.compile(
    r"\.decider\b|\bPolicyEngine\b|\bReviewQueue\b|\bAuditLog\b|\bDecisionRepository\b"
    r"|\bPolicyStore\b|\bStrikeBook\b|\bUserEraser\b|\bKeyAdmin\b|\bWebhookSender\b"
    r"|\.events\.subscribe\b|\.repository\.\w"
    r"|\b(engine|policy)\.(reviews|audit|strikes|policies|webhooks|repository|clock)\b"
)
WEB_FRAMEWORKS = ("fastapi", "starlette", "uvicorn", "httpx")


def sources(*parts: str) -> list[Path]:
    return sorted(p for part in parts for p in (SRC / part).rglob("*.py"))


@pytest.mark.parametrize("path", sources(*ADAPTERS), ids=lambda p: str(p.relative_to(SRC)))
def test_adapters_do_not_reach_into_the_core(path: Path) -> None:
    code = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    assert REACHING_IN.findall(code) == []


@pytest.mark.parametrize("path", sources("app"), ids=lambda p: str(p.relative_to(SRC)))
def test_the_application_layer_imports_no_web_framework(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported.isdisjoint(WEB_FRAMEWORKS)


def test_nothing_asks_which_kind_of_decider_it_has() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sources(".")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"isinstance\([^)]*(decider|PolicyEngine)", line)
    ]
    assert offenders == []
