"""Reading labeled files and mapping their labels onto the taxonomy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatguard.classifier.data import (
    DEFAULT_MAPPING,
    Split,
    SplitPlan,
    load_examples,
    load_mapping,
)
from chatguard.errors import ConfigurationError, InvalidInputError

SHIPPED = load_mapping(DEFAULT_MAPPING)


@pytest.mark.parametrize(
    ("source", "labels", "expected"),
    [
        ("jigsaw", {"toxic": 1, "insult": 1, "threat": 0}, {"harassment": 1, "flagged": 1}),
        ("jigsaw", {"toxic": 1, "threat": 1}, {"violence": 1, "harassment/threatening": 1}),
        ("jigsaw", {"toxic": 0, "obscene": 0}, {"flagged": 0, "harassment": 0, "sexual": 0}),
        ("davidson", {"hate": 0, "offensive": 1}, {"profanity": 1, "hate": 0}),
        ("davidson", {"hate": 1, "offensive": 0}, {"hate": 1, "flagged": 1}),
        ("toxicchat", {"toxicity": 1, "jailbreaking": 0}, {"flagged": 1, "prompt_injection": 0}),
        ("i2p_prompts", {"categories": "sexual, harassment"}, {"sexual": 1, "harassment": 1}),
        ("suicidal_intent", {"self-harm": 1}, {"self-harm/intent": 1, "flagged": 1}),
        ("dota2_chat", {"dota_label": 5}, {"harassment": 1}),
        ("dota2_chat", {"dota_label": 2}, {"harassment": 0, "flagged": 0}),
    ],
    ids=[
        "jigsaw-insult",
        "jigsaw-threat",
        "jigsaw-clean",
        "davidson-offensive-is-not-hate",
        "davidson-hate",
        "toxicchat-toxic",
        "i2p-tags",
        "suicidal-intent",
        "dota-abuse",
        "dota-cooperative",
    ],
)
def test_shipped_mapping(source: str, labels: dict, expected: dict) -> None:
    targets = SHIPPED[source].targets(labels)
    assert targets is not None
    for target, value in expected.items():
        assert targets.get(target) == value, target


def test_davidson_offensive_leaves_flagged_unknown() -> None:
    targets = SHIPPED["davidson"].targets({"hate": 0, "offensive": 1})
    assert targets is not None and "flagged" not in targets


def test_skip_rule_drops_the_row() -> None:
    assert SHIPPED["dota2_chat"].targets({"dota_label": 7}) is None


def test_every_shipped_data_file_has_a_mapping() -> None:
    data = Path(__file__).resolve().parents[1] / "fixtures" / "data"
    paths = list(data.glob("*.jsonl"))
    assert paths
    for path in paths:
        assert path.stem in SHIPPED, path.name


def test_csv_with_category_columns_maps_itself(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,harassment,self_harm\nyou suck,1,0\nhello,0,0\n", encoding="utf-8")
    examples = load_examples([path], {})
    # Not self-harm implies none of its subcategories (classifier/derived.py).
    assert examples[0].targets == {
        "harassment": 1,
        "self-harm": 0,
        "self-harm/intent": 0,
        "self-harm/instructions": 0,
        "flagged": 1,
    }
    assert {k: v for k, v in examples[1].targets.items() if "/" not in k} == {
        "harassment": 0,
        "self-harm": 0,
    }


def test_file_without_mapping_or_category_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": "hi", "labels": {"score": 1}}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no label mapping for source 'odd'"):
        load_examples([path], {})


def test_mapping_file_naming_an_unknown_category_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("sources:\n  x:\n    covers: [nonsense]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown category 'nonsense'"):
        load_mapping(path)


def test_bad_jsonl_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "ok", "harassment": 0}\n{not json\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=re.escape("broken.jsonl:2")):
        load_examples([path], {})


def test_split_depends_on_the_text_only() -> None:
    plan = SplitPlan()
    assert plan.of("same  text") == plan.of("same text")
    splits = {plan.of(f"message number {i}") for i in range(200)}
    assert splits == set(Split)
