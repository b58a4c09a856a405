"""Labels derived by rule from a row's mapped labels and its text, applied after the mapping.

Three kinds, each documented in the model manifest (`training.label_rules`):

1. Implications of the taxonomy. A subcategory implies its parent (`hate/threatening` is
   `hate`), and a row negative for the parent is negative for the subcategory.
2. Subcategories no public source labels, from a labelled parent and the text:
   - `hate/threatening`: positive for `hate` and for a threat (`harassment/threatening` or
     `violence`), or positive for `hate` with a call to violence in the text; positive for
     `hate` with no violent word: negative;
   - `violence/graphic`: positive for `violence` with gore in the text, else negative;
   - `sexual/minors`: positive for `sexual` with a word for a child in the text, else negative.
3. Untargeted swearing (sources that opt in with `untargeted: {when: ...}`): a row positive for
   `harassment` only through a general "toxic" label, with a swear word, and with nothing that
   aims it at someone (no second- or third-person pronoun, no @mention, no insult noun), is
   swearing, not harassment: `profanity` 1, `harassment` 0, and `flagged` 0 unless another
   OpenAI category is positive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: (subcategory, parent) pairs of the taxonomy.
PARENTS = (
    ("harassment/threatening", "harassment"),
    ("hate/threatening", "hate"),
    ("violence/graphic", "violence"),
    ("sexual/minors", "sexual"),
    ("self-harm/intent", "self-harm"),
    ("self-harm/instructions", "self-harm"),
    ("illicit/violent", "illicit"),
)

_VIOLENT = re.compile(
    r"\b(kill\w*|murder\w*|shoot\w*|shot|hang\w*|lynch\w*|gas(sed)?|burn\w*|exterminat\w*|"
    r"slaughter\w*|genocide|wipe (them|\w+) out|wipe out|behead\w*|bomb\w*|stab\w*|massacre\w*|"
    r"die|dead|death)\b"
)
_GORE = re.compile(
    r"\b(blood\w*|gore|gory|guts|entrails|intestines|dismember\w*|decapitat\w*|mutilat\w*|"
    r"corpse\w*|severed|disembowel\w*|skinned|brains|flesh|bleed\w*|gouge\w*|torn apart)\b"
)
_MINOR = re.compile(
    r"\b(child|children|childs|kid|kids|minor|minors|underage|under age|loli\w*|preteen\w*|"
    r"little (girl|boy)s?|schoolgirl\w*|toddler\w*|infant\w*|jailbait|cp|pedo\w*|paedo\w*|"
    r"(1[0-5]|[5-9]) ?(yo|y/o|year old|years old))\b"
)
_SWEAR = re.compile(
    r"\b(f+u+c*k+\w*|fck\w*|fuk\w*|sh+i+t+\w*|damn\w*|goddamn\w*|crap\w*|hell|wtf|bullshit|"
    r"bloody|piss\w*|bitch\w*|bastard\w*|ass|arse|bugger\w*)\b"
)
_TARGET = re.compile(
    r"(@\w)|\b(you|u|ur|your|yours|youre|you're|ya|yourself|urself|ye|yall|y'all|he|him|his|"
    r"she|her|hers|they|them|their|this guy|that guy|people|"
    r"idiot\w*|moron\w*|noob\w*|retard\w*|loser\w*|dumbass\w*|asshole\w*|cunt\w*|"
    r"dickhead\w*|fag\w*|whore\w*|slut\w*|nigg\w*|jerk\w*|scum\w*|clown\w*|kid\w*|"
    r"admin\w*|editor\w*|user\w*)\b"
)
_OPENAI_PARENT_FREE = ("harassment",)


def is_untargeted_swearing(folded: str) -> bool:
    """A swear word and nothing that aims the text at a person."""
    return bool(_SWEAR.search(folded)) and not _TARGET.search(folded)


def relabel_untargeted(targets: dict[str, int], openai: Iterable[str]) -> None:
    """Swearing at nobody: `profanity`, not `harassment` (rule 3)."""
    targets["harassment"] = 0
    targets["profanity"] = 1
    if "flagged" in targets and not any(
        targets.get(name) == 1 for name in openai if name not in _OPENAI_PARENT_FREE
    ):
        targets["flagged"] = 0


def derive(targets: dict[str, int], folded: str) -> None:
    """Rules 1 and 2 on one row's targets (in place)."""
    if targets.get("hate") == 1 and "hate/threatening" not in targets:
        threat = targets.get("harassment/threatening") == 1 or targets.get("violence") == 1
        targets["hate/threatening"] = int(threat or bool(_VIOLENT.search(folded)))
    if targets.get("violence") == 1 and "violence/graphic" not in targets:
        targets["violence/graphic"] = int(bool(_GORE.search(folded)))
    if targets.get("sexual") == 1 and "sexual/minors" not in targets:
        targets["sexual/minors"] = int(bool(_MINOR.search(folded)))
    for child, parent in PARENTS:
        if targets.get(child) == 1:
            targets[parent] = 1
        elif targets.get(parent) == 0:
            targets[child] = 0


#: The rules as the manifest records them.
RULES = {
    "implications": [f"{child} implies {parent}; not {parent} implies not {child}"
                     for child, parent in PARENTS],
    "hate/threatening": "hate and (harassment/threatening or violence or a violent word) -> 1; "
    "hate without them -> 0",
    "violence/graphic": "violence with a gore word -> 1; violence without -> 0",
    "sexual/minors": "sexual with a word for a child -> 1; sexual without -> 0",
    "untargeted_swearing": "harassment from a general toxic label, with a swear word and no "
    "pronoun, @mention or insult noun aiming it -> profanity 1, harassment 0, flagged 0 unless "
    "another OpenAI category is positive",
}  # fmt: skip
