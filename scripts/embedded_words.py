"""Build the list of ordinary words with a swear word, slur or sexual term inside them
("grape", "scrap", "cocktail", "bitcoin", "niggle"), whose character n-grams the classifier's
featurizer leaves out (`FeatureConfig.mask_embedded`): such a word is read as a whole word only,
so it cannot inherit the weights of the term inside it.

    python scripts/embedded_words.py --data ../shared/data \
        --out src/chatguard/classifier/data/embedded_words.txt

A one-off build step, run by hand when the term list changes (then retrain the classifier: the
list's digest is part of the model). Needs `wordfreq` (the frequency list of English words) in
the environment that runs it; nothing of it is needed at run time.

A word goes in when it is among the 80,000 most frequent English words, has only letters, and
holds a root (a one-word term of the filter's profanity, harassment, hate and sexual groups, and
a few the classifier learned that the filter does not list) inside it, and stays out when:

- the filter's own term list matches it (`fuck*` matches "fucking");
- it is the root with an inflection or an insulting compound part ("bitchy", "shitty",
  "dickhead", "dumbass", "motherfucker");
- the training data (`--data`) uses it mostly in toxic texts (at least 5 uses, half toxic),
  unless a reading of the list kept it (`REVIEWED_IN`);
- a reading of the list left it out (`REVIEWED_OUT`).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from chatguard.domain import Message
from chatguard.filter.detection import prepare
from chatguard.filter.rules import RuleDetector


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


ROOT = Path(__file__).resolve().parents[1]
TERMS = ROOT / "src" / "chatguard" / "filter" / "data" / "terms_en.yaml"
#: Terms the classifier learned from its data that the filter's list does not name.
EXTRA_ROOTS = ("rape", "rapist", "pedo", "nazi", "sex", "anal", "anus", "penis", "vagina")
#: Slurs whose first four letters alone carry their weight ("bitcoin", "niggle").
PREFIX_ROOTS = ("bitch", "nigger", "nigga", "faggot")
#: What follows a root to inflect it or make an insult of it.
SUFFIXES = _word_set(
    "s es ed d er ers ing in y ie ies ier iest ty tier ish ishly ly ness ass head heads hole "
    "holes face faces bag bags wad wads sucker suckers suck lord stain load hat hound fest ery "
    "eries ball balls off fuck fucker fucking wit wits weed tard tards ton tastic"
)
#: What goes before a root to make an insult of it.
PREFIXES = _word_set(
    "dumb jack horse bull dip smart lard fat kick bad hard big half mother butt dick bitch "
    "pussy cock ass shit fuck cum lame sand tree dog chicken cluster mega super ultra"
)
#: Left out on review: profanity, insults and sexual or violent words whose character n-grams
#: the heads need ("scumbag" holds "cum", "massacred" holds "ass").
REVIEWED_OUT = _word_set(
    "crapped crapping crappie damnable damnation damnedest damnit goddammit goddamnit "
    "pedophile pedophiles pornographers pornography pornos pornstar pornstars youporn raper "
    "retardation scum scumbag scumbags scummy shitfaced shithouse shitless shitshow shitstorm "
    "shitter shittiest whorehouse sexo sext sexting sexiness sexless sexualised sexualized "
    "sexualizing sexualization sexually nazism massacred massacres massacring assailant "
    "assailants assaulted assaults assassinate assassinated assassinating assassination "
    "assassinations circumcised uncircumcised circumcision vaginal"
)
#: Kept on review though the training data uses them mostly in toxic texts (the data's base
#: rate of toxic texts is high: "cocktail" is used 33 times, 20 of them toxic).
REVIEWED_IN = _word_set(
    "cockroaches scrappy wassup assimilate assimilation assam analysts classless scrap masse "
    "classy cocktail cassidy hourglass michelle embarrass assyrians harass harrassment"
)
TOXIC_LABELS = {
    "toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate", "hate",
    "offensive", "abusive", "sex_harassment", "toxicity",
}  # fmt: skip
WORD = re.compile(r"[a-z]+")


def roots() -> list[str]:
    import yaml

    groups = yaml.safe_load(TERMS.read_text(encoding="utf-8"))["groups"]
    found = set(EXTRA_ROOTS)
    for group in groups:
        if group["category"] not in ("profanity", "harassment", "hate", "sexual"):
            continue
        for term in group["terms"]:
            term = str(term).strip("*").lower()
            if term.isalpha() and len(term) >= 3:
                found.add(term)
    return sorted(found)


def toxic_rates(data: Path) -> dict[str, tuple[int, int]]:
    """Per word: (texts using it, toxic texts using it), over the labelled training sets."""
    uses: Counter[str] = Counter()
    toxic: Counter[str] = Counter()
    for path in sorted(data.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            labels = row.get("labels", {})
            is_toxic = any(labels.get(k) == 1 for k in TOXIC_LABELS) or labels.get("type") not in (
                None,
                "not_cyberbullying",
            )
            words = set(WORD.findall(str(row.get("text", "")).lower()))
            uses.update(words)
            if is_toxic:
                toxic.update(words)
    return {w: (uses[w], toxic[w]) for w in uses}


def holds_root(word: str, all_roots: list[str]) -> str | None:
    for root in all_roots:
        if root in word and root != word:
            return root
    for root in PREFIX_ROOTS:
        if root[:4] in word and not word.startswith(root):
            return root
    return None


def insulting(word: str, root: str) -> bool:
    """The root inflected or compounded into an insult."""
    at = word.find(root)
    before, after = word[:at], word[at + len(root) :]
    if not before and after in SUFFIXES:
        return True
    if not after and before in PREFIXES:
        return True
    return before in PREFIXES and after in SUFFIXES


def main() -> int:
    from wordfreq import top_n_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the labelled training data")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", type=int, default=80_000)
    args = parser.parse_args()

    all_roots = roots()
    rules = RuleDetector()
    rates = toxic_rates(args.data)
    kept = []
    for word in top_n_list("en", args.top):
        if not word.isascii() or not word.isalpha() or not 4 <= len(word) <= 24:
            continue
        root = holds_root(word, all_roots)
        if root is None or insulting(word, root) or word in REVIEWED_OUT:
            continue
        if rules.detect(prepare(Message(text=word, user_id="u", channel_id="c"))):
            continue
        used, toxic = rates.get(word, (0, 0))
        if used >= 5 and toxic * 2 >= used and word not in REVIEWED_IN:
            continue
        kept.append(word)
    header = (
        "# Ordinary words with a swear word, slur or sexual term inside them: the classifier\n"
        "# reads them as whole words only. Built by scripts/embedded_words.py; see its docstring.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + "\n".join(sorted(set(kept))) + "\n", encoding="utf-8")
    print(f"{len(set(kept))} words from {len(all_roots)} roots -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
