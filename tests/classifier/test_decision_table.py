"""What chat sees: the shipped model through the real fast tier (filter, classifier; no LLM)
and the policy engine, under the default and the gaming presets.

Untargeted swearing is profanity (allowed in gaming channels), skill insults aimed at a player
are harassment with or without a swear word, the same words said of the game or of oneself and
game talk that borrows violent words are nothing, swear words inside ordinary words are nothing,
a harmless prefix does not hide abuse, and a person in crisis is detected as self-harm (what the
policy then does with a disclosure is the policy's business, so those rows assert the detection).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from chatguard.config import load_settings
from chatguard.decisions import PolicyEngine
from chatguard.decisions.repository import DecisionRepository
from chatguard.domain import Action, Assessment, Message, Route
from chatguard.events import InProcessEventBus
from chatguard.pipeline import Pipeline, Router
from chatguard.pipeline.registry import build_stage
from chatguard.service import stage_thresholds
from chatguard.storage import SqlStore
from chatguard.taxonomy import Category

ALLOW, HOLD, DELETE = Action.ALLOW, Action.HOLD, Action.DELETE

# (text, action under the default preset, action under the gaming preset), each from a new user.
# The default preset removes sure swearing (profanity at level 1 acts on the surest scores);
# gaming allows it, and allows harassment below 0.9 (light trash talk) but not the surest.
TABLE = [
    # Untargeted swearing: profanity, never harassment.
    pytest.param("this boss is fucking hard", DELETE, ALLOW, id="swear-at-boss"),
    pytest.param("holy shit that clutch", DELETE, ALLOW, id="swear-at-clutch"),
    pytest.param("fuck this lag man", DELETE, ALLOW, id="swear-at-lag"),
    pytest.param("damn i died again lol", DELETE, ALLOW, id="mild-swear"),
    # Game kill talk is not violence.
    pytest.param("kill him hes low", ALLOW, ALLOW, id="kill-him-low"),
    pytest.param("kill the boss first then loot", ALLOW, ALLOW, id="kill-the-boss"),
    # Skill insults aimed at a player: harassment even without a swear word.
    pytest.param("uninstall noob", DELETE, DELETE, id="taunt-uninstall"),
    pytest.param("get good kid", DELETE, DELETE, id="taunt-get-good"),
    pytest.param("you fucking noob", DELETE, DELETE, id="swear-at-player"),
    # Insults without a swear word: held under the default preset; the gaming preset lets light
    # trash talk through (harassment below 0.9) but still scores it as harassment (below).
    pytest.param("you're so bad", HOLD, ALLOW, id="taunt-so-bad"),
    pytest.param("ur trash", HOLD, ALLOW, id="taunt-ur-trash"),
    pytest.param("hey loser, nobody asked", HOLD, ALLOW, id="insult-nobody-asked"),
    pytest.param("what a loser", HOLD, ALLOW, id="insult-what-a-loser"),
    pytest.param("you're garbage at this", DELETE, DELETE, id="taunt-garbage-at-this"),
    # Frustration at the game or at oneself is not harassment.
    pytest.param("this boss is trash", ALLOW, ALLOW, id="boss-is-trash"),
    pytest.param("this game is garbage", ALLOW, ALLOW, id="game-is-garbage"),
    pytest.param("I'm so bad at this lol", ALLOW, ALLOW, id="self-so-bad"),
    # Self-deprecation names the speaker with "by me", "my bad" or "i'm": not harassment; the
    # same insult aimed at a player stays harassment.
    pytest.param("idiot move by me", ALLOW, ALLOW, id="self-idiot-move-by-me"),
    pytest.param("my bad, dumb play", ALLOW, ALLOW, id="self-my-bad-dumb-play"),
    pytest.param("i'm such an idiot lol", ALLOW, ALLOW, id="self-such-an-idiot"),
    pytest.param("idiot move by you", DELETE, DELETE, id="taunt-idiot-move-by-you"),
    pytest.param("you idiot", DELETE, DELETE, id="insult-you-idiot"),
    # Hype and game talk that borrow violent words are not violence.
    pytest.param("bomb the site", ALLOW, ALLOW, id="bomb-the-site"),
    pytest.param("that show was da bomb", ALLOW, ALLOW, id="da-bomb"),
    pytest.param("he got destroyed", ALLOW, ALLOW, id="got-destroyed"),
    pytest.param("kill the boss!", ALLOW, ALLOW, id="kill-the-boss-hype"),
    pytest.param("headshot him", ALLOW, ALLOW, id="headshot-him"),
    # Scunthorpe: swear words inside ordinary words and names.
    pytest.param("classic play", ALLOW, ALLOW, id="scunthorpe-classic"),
    pytest.param("cocktail hour after the raid", ALLOW, ALLOW, id="scunthorpe-cocktail"),
    pytest.param("Shital joined the raid", ALLOW, ALLOW, id="scunthorpe-shital"),
    pytest.param("a bitcoin transaction", ALLOW, ALLOW, id="scunthorpe-bitcoin"),
    # A harmless prefix does not hide abuse: scored as the abusive sentence alone.
    pytest.param(
        "Great stream today, the music was lovely and the map looked amazing. "
        "You are a worthless piece of trash and everyone hates you.",
        DELETE,
        DELETE,
        id="prefixed-insult",
    ),
    pytest.param(
        "Thanks for hosting the tournament, we had a lot of fun tonight. "
        "I will find you and kill you, you filthy rat.",
        DELETE,
        DELETE,
        id="prefixed-threat",
    ),
]

SKILL_INSULTS = [
    "idiot move by you",
    "you idiot",
    "you're so bad",
    "uninstall noob",
    "get good kid",
    "lol noob",
    "ur trash",
    "hey loser, nobody asked",
    "what a loser",
    "you're garbage at this",
]
#: The words of an insult said of the game or of oneself, and game talk with violent words.
NOT_AIMED = [
    "this boss is trash",
    "this game is garbage",
    "I'm so bad at this lol",
    "im trash at this game",
    "idiot move by me",
    "my bad, dumb play",
    "i'm such an idiot lol",
    "bomb the site",
    "that show was da bomb",
    "he got destroyed",
    "kill the boss!",
    "headshot him",
]

CRISIS = [
    pytest.param("i want to kill myself tonight, i can't do this anymore", id="crisis-tonight"),
    pytest.param(
        "Today was long. I cleaned the kitchen and walked the dog. "
        "honestly i dont want to live anymore and i have been thinking about ending it",
        id="crisis-in-prose",
    ),
]

_USERS = itertools.count()


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    settings = load_settings(_env_file=None)
    stages = [build_stage(name, settings) for name in ("filter", "classifier")]
    return Pipeline(stages, Router(stage_thresholds(stages)))


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[PolicyEngine]:
    store = SqlStore(sqlite_url)
    await store.start()
    engine = PolicyEngine(
        repository=DecisionRepository(engine=store.engine), events=InProcessEventBus()
    )
    await engine.policies.put("lobby", {"preset": "default"}, actor="owner")
    await engine.policies.put("arena", {"preset": "gaming"}, actor="owner")
    yield engine
    await engine.close()
    await store.close()


async def _assess(pipeline: Pipeline, message: Message) -> Assessment:
    await pipeline.start()
    [assessment] = await pipeline.assess([message], context={"stateless": True})
    return assessment


@pytest.mark.parametrize(("text", "default", "gaming"), TABLE)
async def test_actions_under_the_default_and_gaming_presets(
    pipeline: Pipeline,
    engine: PolicyEngine,
    text: str,
    default: Action,
    gaming: Action,
) -> None:
    for channel, expected in (("lobby", default), ("arena", gaming)):
        # A new user per message: the first offence, no strikes carried over.
        message = Message(text=text, user_id=f"player{next(_USERS)}", channel_id=channel)
        decision = await engine.decide(message, await _assess(pipeline, message))
        assert decision.action is expected, (channel, decision.reason)


@pytest.mark.parametrize("text", SKILL_INSULTS)
async def test_skill_insults_at_a_player_are_harassment(pipeline: Pipeline, text: str) -> None:
    assessment = await _assess(pipeline, Message(text=text, user_id="u", channel_id="lobby"))
    scores = assessment.scores
    assert max(scores, key=lambda c: scores[c]) is Category.HARASSMENT
    assert assessment.route is Route.ACT


@pytest.mark.parametrize("text", CRISIS)
async def test_a_person_in_crisis_is_detected_as_self_harm(pipeline: Pipeline, text: str) -> None:
    message = Message(text=text, user_id="u", channel_id="lobby")
    assessment = await _assess(pipeline, message)
    scores, thresholds = assessment.scores, pipeline.router.thresholds
    self_harm = (Category.SELF_HARM, Category.SELF_HARM_INTENT)
    # Scored high enough to act on without the LLM, and read as self-harm, not violence.
    assert any(scores[c] >= thresholds.act_at(c) for c in self_harm)
    assert max(scores, key=lambda c: scores[c]) in self_harm
    assert assessment.route is Route.ACT


@pytest.mark.parametrize("text", ["classic play", "cocktail hour", "Shital joined the raid"])
async def test_scunthorpe_words_are_not_profanity(pipeline: Pipeline, text: str) -> None:
    message = Message(text=text, user_id="u", channel_id="lobby")
    scores = (await _assess(pipeline, message)).scores
    flag_at = pipeline.router.thresholds.flag_at(Category.PROFANITY)
    assert scores.get(Category.PROFANITY, 0.0) < flag_at


@pytest.mark.parametrize("text", ["this boss is fucking hard", "holy shit that clutch"])
async def test_untargeted_swearing_is_profanity_not_harassment(
    pipeline: Pipeline, text: str
) -> None:
    message = Message(text=text, user_id="u", channel_id="lobby")
    scores = (await _assess(pipeline, message)).scores
    thresholds = pipeline.router.thresholds
    assert scores[Category.PROFANITY] >= thresholds.flag_at(Category.PROFANITY)
    assert scores[Category.HARASSMENT] < thresholds.flag_at(Category.HARASSMENT)


@pytest.mark.parametrize("text", NOT_AIMED)
async def test_frustration_and_game_talk_are_not_flagged(pipeline: Pipeline, text: str) -> None:
    assessment = await _assess(pipeline, Message(text=text, user_id="u", channel_id="lobby"))
    thresholds = pipeline.router.thresholds
    for category in (Category.HARASSMENT, Category.HATE, Category.VIOLENCE):
        assert assessment.scores.get(category, 0.0) < thresholds.flag_at(category), category
    assert assessment.route is Route.ALLOW


#: Ordinary words with a swear word, slur or sexual term inside them, beyond the ones the
#: training templates name: read as whole words, they inherit nothing from the term inside.
EMBEDDED = ["grape soda and a hot dog", "a bitcoin transaction", "rapeseed oil for cooking"]


@pytest.mark.parametrize("text", EMBEDDED)
async def test_words_with_a_term_inside_them_are_not_abuse(pipeline: Pipeline, text: str) -> None:
    assessment = await _assess(pipeline, Message(text=text, user_id="u", channel_id="lobby"))
    thresholds = pipeline.router.thresholds
    assert assessment.route is not Route.ACT
    for category in (Category.HARASSMENT, Category.HATE, Category.SEXUAL):
        assert assessment.scores.get(category, 0.0) < thresholds.flag_at(category), category
