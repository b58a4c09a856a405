"""The shipped model: every category but pii has a head, and its manifest lists its data."""

from __future__ import annotations

import json

from chatguard.classifier.model import MANIFEST_FILE, LinearModel
from chatguard.classifier.stage import DEFAULT_MODEL
from chatguard.classifier.synthetic import GENERATORS
from chatguard.normalize import normalize
from chatguard.taxonomy import Category

LONG_CLEAN = (
    "Thanks everyone for coming to the community night. We started with a short recap of the "
    "season, then the casters walked through the new map rotation and the patch notes. After "
    "the break we ran the charity bracket, raised a good amount for the local library, and "
    "handed out prizes to the three best teams. Next week we will stream the qualifiers at the "
    "usual time; the schedule is pinned in the announcements channel, and the volunteers who "
    "helped with the setup will get their badges by the weekend. See you all there and drink "
    "some water between the matches."
)


def test_every_category_but_pii_has_a_head() -> None:
    model = LinearModel.load(DEFAULT_MODEL)
    assert set(model.heads) == {c.value for c in Category} - {"pii"} | {"flagged"}
    assert model.word_heads == ("profanity",)
    assert "spam" not in model.spans.heads and "harassment" in model.spans.heads


def test_the_manifest_lists_every_source_with_counts() -> None:
    manifest = json.loads((DEFAULT_MODEL / MANIFEST_FILE).read_text(encoding="utf-8"))
    training = manifest["training"]
    assert {s["name"] for s in training["synthetic"]} == set(GENERATORS)
    for entry in (*training["files"], *training["synthetic"]):
        assert sum(entry["rows"].values()) > 0
    names = {f["name"].removesuffix(".jsonl") for f in training["files"]} | set(GENERATORS)
    assert set(training["sources"]) == names
    assert set(training["label_rules"]) >= {"implications", "untargeted_swearing"}


def test_a_long_clean_text_is_not_flagged_for_its_length() -> None:
    model = LinearModel.load(DEFAULT_MODEL)
    flag = min(t.flag for t in model.thresholds().values())
    [scores] = model.predict_proba([normalize(LONG_CLEAN).folded]).tolist()
    assert 500 < len(LONG_CLEAN) < 1000
    assert max(scores) < flag
