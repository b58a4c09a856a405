"""Reading labeled text (JSONL or CSV), mapping its labels onto the taxonomy, splitting it.

Every row becomes an `Example`: the text and, per target, 1 (positive), 0 (negative) or absent
(unknown). The mapping is declared data (`mappings/label_map.yaml`), not code. Splits are
deterministic functions of the normalized text, so one text is always in the same split whichever
file it comes from, and held-out text never reaches training.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from chatguard.classifier.derived import derive, is_untargeted_swearing, relabel_untargeted
from chatguard.classifier.model import FLAGGED_HEAD
from chatguard.classifier.synthetic import GENERATORS, WEIGHTS
from chatguard.errors import ConfigurationError, InvalidInputError
from chatguard.normalize import normalize
from chatguard.taxonomy import OPENAI_CATEGORIES, Category, UnknownCategoryError, parse_category

DEFAULT_MAPPING = Path(__file__).with_name("mappings") / "label_map.yaml"
OPENAI_NAMES = frozenset(c.value for c in OPENAI_CATEGORIES)
_CATEGORY = frozenset(c.value for c in Category)


class Split(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """Percentages of the hash space given to the held-out test and validation splits."""

    test_percent: int = 20
    validation_percent: int = 15

    def of(self, folded: str) -> Split:
        digest = hashlib.blake2b(" ".join(folded.split()).encode(), digest_size=8).digest()
        slot = int.from_bytes(digest, "big") % 100
        if slot < self.test_percent:
            return Split.TEST
        if slot < self.test_percent + self.validation_percent:
            return Split.VALIDATION
        return Split.TRAIN


@dataclass(slots=True)
class Example:
    text: str
    folded: str
    source: str
    targets: dict[str, int] = field(default_factory=dict)
    weight: float = 1.0
    split: Split = Split.TRAIN


def parse_target(name: str) -> str:
    """A mapping target: `flagged` or a taxonomy category (canonical value)."""
    if name == FLAGGED_HEAD:
        return name
    try:
        return parse_category(name).value
    except UnknownCategoryError as exc:
        raise ConfigurationError(f"label mapping: {exc}") from None


@dataclass(frozen=True, slots=True)
class Rule:
    when: Mapping[str, Any]
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    skip: bool = False

    def matches(self, labels: Mapping[str, Any]) -> bool:
        for key, wanted in self.when.items():
            if key not in labels:
                return False
            value = labels[key]
            if isinstance(wanted, Mapping) and "contains" in wanted:
                if str(wanted["contains"]) not in str(value):
                    return False
            elif isinstance(wanted, list):
                if not any(_equal(value, w) for w in wanted):
                    return False
            elif not _equal(value, wanted):
                return False
        return True


@dataclass(frozen=True, slots=True)
class SourceMapping:
    """How one source's labels become targets."""

    name: str
    covers: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    weight: float = 1.0
    #: Rows matching this rule whose harassment is untargeted swearing become profanity
    #: (`derived.relabel_untargeted`); None: the source's labels stand.
    untargeted: Rule | None = None

    def targets(self, labels: Mapping[str, Any]) -> dict[str, int] | None:
        """The row's targets, or None when a rule says to skip it."""
        positive: set[str] = set()
        negative: set[str] = set(self.covers)
        for rule in self.rules:
            if rule.matches(labels):
                if rule.skip:
                    return None
                positive.update(rule.positive)
                negative.update(rule.negative)
        if positive & OPENAI_NAMES:
            positive.add(FLAGGED_HEAD)
        out = {t: 0 for t in negative}
        out.update({t: 1 for t in positive})
        return out

    @classmethod
    def identity(cls, name: str, columns: Iterable[str]) -> SourceMapping | None:
        """A mapping for a file whose label columns are named after targets, or None."""
        targets = []
        for column in columns:
            try:
                targets.append((column, parse_target(column)))
            except ConfigurationError:
                continue
        if not targets:
            return None
        rules = tuple(Rule(when={column: 1}, positive=(target,)) for column, target in targets)
        return cls(name, covers=tuple(t for _, t in targets), rules=rules)


def _equal(value: Any, wanted: Any) -> bool:
    if value == wanted:
        return True
    try:  # CSV cells arrive as strings: "1" equals 1, "1.0" too
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return str(value) == str(wanted)


def load_mapping(*paths: str | Path) -> dict[str, SourceMapping]:
    """Read mapping files; a later file's entry for a source replaces an earlier one."""
    mappings: dict[str, SourceMapping] = {}
    for path in paths:
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(f"cannot read label mapping {path}: {exc}") from None
        sources = document.get("sources")
        if not isinstance(sources, Mapping):
            raise ConfigurationError(f"label mapping {path}: needs a `sources:` mapping")
        for name, entry in sources.items():
            mappings[str(name)] = _source_mapping(str(name), entry or {}, path)
    return mappings


def _source_mapping(name: str, entry: Mapping[str, Any], path: str | Path) -> SourceMapping:
    where = f"label mapping {path}, source {name}"
    unknown = set(entry) - {"covers", "rules", "weight", "untargeted"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown keys {sorted(unknown)}")
    rules = []
    for raw in entry.get("rules") or []:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("when"), Mapping):
            raise ConfigurationError(f"{where}: every rule needs a `when:` mapping")
        rules.append(
            Rule(
                when=dict(raw["when"]),
                positive=tuple(parse_target(t) for t in raw.get("positive") or []),
                negative=tuple(parse_target(t) for t in raw.get("negative") or []),
                skip=bool(raw.get("skip", False)),
            )
        )
    try:
        weight = float(entry.get("weight", 1.0))
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where}: weight must be a number") from None
    covers = tuple(parse_target(t) for t in entry.get("covers") or [])
    untargeted = entry.get("untargeted")
    if untargeted is not None and not (
        isinstance(untargeted, Mapping) and isinstance(untargeted.get("when", {}), Mapping)
    ):
        raise ConfigurationError(f"{where}: `untargeted` needs a `when:` mapping")
    return SourceMapping(
        name,
        covers=covers,
        rules=tuple(rules),
        weight=weight,
        untargeted=None if untargeted is None else Rule(when=dict(untargeted.get("when") or {})),
    )


def read_rows(path: Path, text_column: str = "text") -> Iterator[tuple[str, dict[str, Any]]]:
    """(text, labels) for each row of a JSONL or CSV file. In JSONL, labels are the `labels`
    object when there is one, else the row's other fields."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        yield from _read_jsonl(path, text_column)
    elif suffix in (".csv", ".tsv"):
        yield from _read_csv(path, text_column, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise InvalidInputError(f"{path}: expected a .jsonl or .csv file")


def _read_jsonl(path: Path, text_column: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number}: not JSON ({exc.msg})") from None
            text = row.get(text_column) if isinstance(row, dict) else None
            if not isinstance(text, str):
                raise InvalidInputError(f"{path}:{number}: no string field {text_column!r}")
            labels = row.get("labels")
            if not isinstance(labels, dict):
                labels = {k: v for k, v in row.items() if k != text_column}
            yield text, labels


def _read_csv(
    path: Path, text_column: str, *, delimiter: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if reader.fieldnames is None or text_column not in reader.fieldnames:
            raise InvalidInputError(f"{path}: no column {text_column!r} in the header")
        for row in reader:
            text = row.pop(text_column) or ""
            yield text, {k: v for k, v in row.items() if k is not None}


def data_files(paths: Iterable[str | Path]) -> list[Path]:
    """The data files named, directories expanded to their .jsonl and .csv files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".csv")))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInputError(f"no such data file or directory: {path}")
    if not files:
        raise InvalidInputError("no .jsonl or .csv data files found")
    return files


def load_examples(
    files: Iterable[Path],
    mappings: Mapping[str, SourceMapping],
    *,
    plan: SplitPlan | None = None,
    text_column: str = "text",
) -> list[Example]:
    """Read every file, map its labels and assign each row to a split."""
    plan = plan or SplitPlan()
    examples: list[Example] = []
    for path in files:
        source = path.stem
        rows = list(read_rows(path, text_column))
        mapping = mappings.get(source)
        if mapping is None:
            columns = {k for _, labels in rows for k in labels}
            mapping = SourceMapping.identity(source, sorted(columns))
        if mapping is None:
            raise ConfigurationError(
                f"{path}: no label mapping for source {source!r} and no label column named after "
                "a category; add the source to a mapping file (--mapping)"
            )
        for text, labels in rows:
            targets = mapping.targets(labels)
            if targets is None or not text.strip() or not targets:
                continue
            folded = normalize(text).folded
            if (
                mapping.untargeted is not None
                and targets.get("harassment") == 1
                and mapping.untargeted.matches(labels)
                and is_untargeted_swearing(folded)
            ):
                relabel_untargeted(targets, OPENAI_NAMES)
            derive(targets, folded)
            examples.append(Example(text, folded, source, targets, mapping.weight, plan.of(folded)))
    return examples


def synthetic_examples(
    names: Iterable[str] | None = None, *, plan: SplitPlan | None = None
) -> list[Example]:
    """The template-written sources (`synthetic.GENERATORS`), split like any other source."""
    plan = plan or SplitPlan()
    examples: list[Example] = []
    for name in names if names is not None else sorted(GENERATORS):
        for text, targets in GENERATORS[name]():
            folded = normalize(text).folded
            derive(targets, folded)
            weight = WEIGHTS.get(name, 1.0)
            examples.append(Example(text, folded, name, dict(targets), weight, plan.of(folded)))
    return examples


def eval_record(example: Example) -> dict[str, Any]:
    """The `chatguard evaluate` line for a held-out example: text, flagged and categories."""
    categories = {
        t: v for t, v in sorted(example.targets.items()) if t != FLAGGED_HEAD and t in _CATEGORY
    }
    flagged = example.targets.get(FLAGGED_HEAD)
    if flagged is None:
        flagged = int(any(v for t, v in categories.items() if t in OPENAI_NAMES))
    return {"text": example.text, "flagged": flagged, "categories": categories}
