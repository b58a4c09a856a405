"""The published JSON Schema (docs/events.schema.json) is what the code defines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatguard.cli import main
from chatguard.events.model import EVENT_CLASSES, type_of
from chatguard.events.schema import SCHEMA_PATH, render
from tests.conftest import REPO


def test_the_committed_schema_is_up_to_date() -> None:
    committed = (REPO / SCHEMA_PATH).read_text(encoding="utf-8")
    assert committed == render(), "run `chatguard events-schema` and commit the file"


def test_the_schema_names_every_event_and_stage_form() -> None:
    schema = json.loads(render())
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == {type_of(cls) for cls in EVENT_CLASSES}
    assert {"StageInput", "StageResult", "Assessment"} <= set(schema["$defs"])
    for ref in mapping.values():
        assert ref.removeprefix("#/$defs/") in schema["$defs"]


def test_the_command_writes_and_checks_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "events.schema.json"
    assert main(["events-schema", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render()
    assert main(["events-schema", str(target), "--check"]) == 0
    target.write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["events-schema", str(target), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
