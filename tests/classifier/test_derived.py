"""Labels derived by rule: the taxonomy's implications, the subcategories no source labels, and
untargeted swearing relabelled as profanity."""

from __future__ import annotations

import pytest

from chatguard.classifier.data import OPENAI_NAMES, SourceMapping, load_examples, load_mapping
from chatguard.classifier.derived import derive, is_untargeted_swearing, relabel_untargeted
from chatguard.classifier.synthetic import GENERATORS

DERIVED = [
    pytest.param({"hate": 1, "violence": 1}, "x", {"hate/threatening": 1}, id="hate-and-threat"),
    pytest.param({"hate": 1}, "we should kill them all", {"hate/threatening": 1}, id="hate-kill"),
    pytest.param({"hate": 1}, "they smell", {"hate/threatening": 0}, id="hate-no-threat"),
    pytest.param({"hate": 0}, "x", {"hate/threatening": 0}, id="not-hate-not-threat"),
    pytest.param({"violence": 1}, "blood everywhere", {"violence/graphic": 1}, id="gore"),
    pytest.param({"violence": 1}, "i will hit you", {"violence/graphic": 0}, id="plain-violence"),
    pytest.param({"sexual": 1}, "send pics you're 12 yo", {"sexual/minors": 1}, id="minor"),
    pytest.param({"sexual": 1}, "adult talk", {"sexual/minors": 0}, id="adult"),
    pytest.param({"self-harm/intent": 1}, "x", {"self-harm": 1}, id="child-implies-parent"),
]


@pytest.mark.parametrize(("targets", "text", "expected"), DERIVED)
def test_derived_labels(targets: dict[str, int], text: str, expected: dict[str, int]) -> None:
    derive(targets, text)
    assert {k: targets[k] for k in expected} == expected


UNTARGETED = [
    pytest.param("this boss is fucking hard", True, id="at-the-game"),
    pytest.param("holy shit that clutch", True, id="exclamation"),
    pytest.param("fuck you", False, id="at-you"),
    pytest.param("he is a fucking idiot", False, id="at-him"),
    pytest.param("shit noob", False, id="insult-noun"),
    pytest.param("you are so bad", False, id="no-swear-word"),
]


@pytest.mark.parametrize(("text", "expected"), UNTARGETED)
def test_untargeted_swearing(text: str, expected: bool) -> None:
    assert is_untargeted_swearing(text) is expected


def test_relabel_keeps_flagged_when_another_category_is_positive() -> None:
    targets = {"flagged": 1, "harassment": 1, "violence": 1, "profanity": 0}
    relabel_untargeted(targets, OPENAI_NAMES)
    assert targets == {"flagged": 1, "harassment": 0, "violence": 1, "profanity": 1}


def test_a_source_opts_in_to_the_relabelling(tmp_path) -> None:
    (tmp_path / "chat.jsonl").write_text(
        '{"text": "this lag is fucking awful", "labels": {"toxic": 1}}\n'
        '{"text": "you are fucking awful", "labels": {"toxic": 1}}\n'
    )
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text(
        "sources:\n  chat:\n    covers: [flagged, harassment, profanity]\n"
        "    rules:\n      - {when: {toxic: 1}, positive: [harassment]}\n"
        "    untargeted: {when: {toxic: 1}}\n"
    )
    mappings = load_mapping(mapping_file)
    assert isinstance(mappings["chat"], SourceMapping)
    game, person = load_examples([tmp_path / "chat.jsonl"], mappings)
    assert (game.targets["harassment"], game.targets["profanity"], game.targets["flagged"]) == (
        0,
        1,
        0,
    )
    assert (person.targets["harassment"], person.targets["flagged"]) == (1, 1)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_synthetic_sources_are_deterministic_and_consistent(name: str) -> None:
    first, second = list(GENERATORS[name]()), list(GENERATORS[name]())
    assert first == second and len(first) >= 50
    for _, targets in first:
        openai_positive = any(v for k, v in targets.items() if k in OPENAI_NAMES)
        assert targets["flagged"] == int(openai_positive)


def test_synthetic_game_chat_separates_swearing_from_insults() -> None:
    rows = dict(GENERATORS["synthetic_gaming_chat"]())
    swearing = [t for t, v in rows.items() if v["profanity"] and not v["harassment"]]
    insults = [t for t, v in rows.items() if v["harassment"]]
    kill_talk = [t for t, v in rows.items() if t.lower().startswith("kill ")]
    assert swearing and insults and kill_talk
    assert all(rows[t]["violence"] == 0 for t in kill_talk)
