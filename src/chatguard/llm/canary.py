"""Control messages: plainly abusive texts sent along with real ones, whose verdict is known.

A model that answers "safe" to everything, or one that a message in the prompt talked into
clearing it all, clears the control message too. An answer that does so is not used: its
messages keep the fast tier's scores and go to review. The control travels like any other
message (an ordinary id, a random position, its own pseudonymous author), so a model cannot
tell it from the rest of the prompt.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from chatguard.taxonomy import OPENAI_CATEGORIES, Category

#: Plainly abusive: any adjudicator worth asking flags each of them in a harm category.
CONTROL_TEXTS: tuple[str, ...] = (
    # Threats of violence and urging self-harm: within what every supported model judges
    # (Llama Guard has no harassment category, but S1 and S11 cover these).
    "you worthless idiot, nobody wants you here. kill yourself",
    "shut up loser, I know where you live and I will hurt you",
    "I will find you and beat you to death, idiot",
    "go hang yourself you pathetic loser",
    "loser, I am going to stab you after school tomorrow",
)
#: The control is flagged when a harm category scores at least this.
FLAGGED_AT = 0.5


def pick(rng: random.Random | None = None) -> str:
    """A control text."""
    return (rng or random).choice(CONTROL_TEXTS)


def flagged(scores: Mapping[Category, float]) -> bool:
    """Did the verdict flag the control message?"""
    return any(scores.get(c, 0.0) >= FLAGGED_AT for c in OPENAI_CATEGORIES)
