"""PII detection: entity table, validators, redaction, and recall on the synthetic set."""

from __future__ import annotations

import pytest
from helpers_filter import DATA, item

from chatguard.domain import Span
from chatguard.filter.pii import (
    ADDRESS,
    CARD,
    EMAIL,
    IBAN,
    IP,
    PHONE,
    SSN,
    PiiDetector,
    apply_redaction,
    iban_ok,
    luhn_ok,
    redact,
)
from chatguard.filter.pii_eval import evaluate, read_rows
from chatguard.taxonomy import Category

DETECTOR = PiiDetector()

FOUND = [
    ("email", "mail me at Jane.Doe+chat@example.co.uk ok", EMAIL, "Jane.Doe+chat@example.co.uk"),
    ("phone-us", "call 415-555-2671 now", PHONE, "415-555-2671"),
    ("phone-intl", "whatsapp +44 7700 900123", PHONE, "+44 7700 900123"),
    ("phone-parens", "(212) 555-0199 is mine", PHONE, "(212) 555-0199"),
    ("card-spaced", "card 4111 1111 1111 1111 exp 12/29", CARD, "4111 1111 1111 1111"),
    ("card-dashed", "5500-0000-0000-0004", CARD, "5500-0000-0000-0004"),
    ("card-plain", "4012888888881881", CARD, "4012888888881881"),
    ("iban-compact", "send to DE89370400440532013000 pls", IBAN, "DE89370400440532013000"),
    ("iban-grouped", "GB82 WEST 1234 5698 7654 32 thanks", IBAN, "GB82 WEST 1234 5698 7654 32"),
    ("iban-lowercase", "gb82west12345698765432", IBAN, "gb82west12345698765432"),
    ("ssn", "my ssn is 123-45-6780", SSN, "123-45-6780"),
    ("ipv4", "server at 203.0.113.54 lol", IP, "203.0.113.54"),
    ("ipv6", "ip 2001:db8:85a3::8a2e:370:7334", IP, "2001:db8:85a3::8a2e:370:7334"),
    ("address-us", "I live at 1600 Pennsylvania Avenue", ADDRESS, "1600 Pennsylvania Avenue"),
    ("address-de", "Hauptstraße 12 in Berlin", ADDRESS, "Hauptstraße 12"),
    ("fullwidth-digits", "ｃａｌｌ ４１５-５５５-２６７１", PHONE, "４１５-５５５-２６７１"),
]


@pytest.mark.parametrize(
    ("text", "entity", "evidence"), [pytest.param(t, e, v, id=i) for i, t, e, v in FOUND]
)
def test_entity_found_with_span(text: str, entity: str, evidence: str) -> None:
    detection = DETECTOR.detect(item(text))
    found = {(s.label, text[s.start : s.end]) for s in detection.spans}
    assert (entity, evidence) in found
    assert Category.PII in detection.scores


NOT_FOUND = [
    ("card-bad-luhn", "4111 1111 1111 1112"),
    ("iban-bad-checksum", "DE89370400440532013001"),
    ("iban-bad-length", "DE8937040044053201300"),
    ("ssn-area-000", "000-12-3456"),
    ("ssn-area-666", "666-12-3456"),
    ("ip-out-of-range", "999.1.1.1"),
    ("score", "we won 3-2 in 45 min"),
    ("year", "back in 2019 it was 100% better"),
    ("version", "patch 1.2.3 is out"),
    ("short-number", "code 12345"),
    ("chat", "LUL that was insane gg"),
    ("at-mention", "@streamer hi"),
    ("status-link", "lol https://twitter.com/x/status/1593323806919106561"),
    ("video-id", "youtube.com/watch?v=4111111111111111"),
    ("bare-count", 'the choice with most wagered points is "Yes" with 10917819 points'),
    ("zeros", "000000000-5 nice"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in NOT_FOUND])
def test_no_pii(text: str) -> None:
    assert not DETECTOR.detect(item(text)).scores


def test_validators() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_redact_with_labels_and_masks() -> None:
    text = "mail a@b.com or call 415-555-2671"
    spans = DETECTOR.detect(item(text)).spans
    assert redact(text, spans) == "mail [EMAIL_ADDRESS] or call [PHONE_NUMBER]"
    masked = redact(text, spans, style="mask")
    assert masked == "mail ******* or call ************" and len(masked) == len(text)


def test_redact_ignores_other_categories_and_overlaps() -> None:
    spans = [
        Span(0, 4, Category.PROFANITY, "term:x"),
        Span(5, 10, Category.PII, EMAIL),
        Span(7, 12, Category.PII, PHONE),
    ]
    assert redact("abcd efghijklm", spans) == "abcd [EMAIL_ADDRESS][PHONE_NUMBER]lm"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("off", "a@b.com hi"), ("label", "[EMAIL_ADDRESS] hi"), ("mask", "******* hi")],
)
def test_redaction_setting(mode: str, expected: str) -> None:
    spans = DETECTOR.detect(item("a@b.com hi")).spans
    assert apply_redaction("a@b.com hi", spans, mode) == expected


def test_unknown_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="PASSPORT"):
        PiiDetector(entities=["PASSPORT"])


def test_entities_can_be_switched_off() -> None:
    detector = PiiDetector(entities=[EMAIL])
    assert not detector.detect(item("call 415-555-2671")).scores
    assert detector.detect(item("a@b.com")).scores


@pytest.fixture(scope="module")
def synthetic_scores():
    return evaluate(read_rows(DATA / "pii_synthetic.jsonl"), DETECTOR)


@pytest.mark.parametrize("entity", [EMAIL, PHONE, CARD, IBAN])
def test_recall_on_synthetic_set_is_at_least_95_percent(synthetic_scores, entity: str) -> None:
    score = synthetic_scores[entity]
    assert score.support > 10
    assert score.recall >= 0.95, f"{entity}: recall {score.recall:.3f}"


@pytest.mark.parametrize("entity", [EMAIL, CARD, IBAN, SSN, IP])
def test_precision_of_checksummed_and_shaped_entities(synthetic_scores, entity: str) -> None:
    assert synthetic_scores[entity].precision >= 0.95
