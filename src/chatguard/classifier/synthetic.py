"""Labelled examples written from templates, for what no public training data covers.

Each generator is a source of its own (listed with its counts in the model manifest) and every
example is labelled by construction, following the taxonomy's definitions:

- `synthetic_gaming_chat`: game chat. Swearing at the game or at oneself ("this lag is fucking
  awful") is `profanity` and nothing else; a skill insult aimed at a player ("uninstall noob",
  "ur so bad") is `harassment` with or without a swear word; kill talk about the game ("kill the
  boss", "kill him hes low") is not `violence`; complaints about the game are clean.
- `synthetic_sexual_minors`: solicitation of minors and requests for sexual material of
  children, written without explicit content (the wording that grooming reports describe:
  asking a child's age with secrecy, asking for pictures, "cp" trading), against everyday talk
  about children and adult sexual talk (positives for `sexual` only).
- `synthetic_hate_threatening`: calls for violence against a protected group, against plain
  threats at one person (`harassment/threatening`, not hate) and non-violent talk about groups.
- `synthetic_violence_graphic`: gore described in detail, against violence told plainly and
  gaming gore ("blood magic build").
- `synthetic_self_harm_instructions`: asking for or giving methods of self-harm, and urging
  someone to it, against disclosures and recovery talk (`self-harm` without instructions) and
  game talk that shares the words ("how to cut the lane").
- `synthetic_illicit_violent`: making or getting weapons to hurt people, against non-violent
  wrongdoing (`illicit` only) and crafting in games.
- `synthetic_scunthorpe`: clean chat lines with ordinary words and names that contain a swear
  word's letters ("classic play", "cocktail hour", "Shital joined the raid").

The lists are short and combinatorial on purpose: they teach the distinctions, the public data
teaches the language. A seeded generator makes the set identical on every run.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence

Row = tuple[str, dict[str, int]]

_SEED = 20261203
#: Targets every synthetic row speaks for; anything not positive in a row is negative.
_COVERS = (
    "flagged",
    "self-harm",
    "self-harm/instructions",
    "illicit",
    "illicit/violent",
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
    "profanity",
)


def _row(text: str, *positive: str) -> Row:
    targets = dict.fromkeys(_COVERS, 0)
    for name in positive:
        targets[name] = 1
    if any(t != "profanity" for t in positive):
        targets["flagged"] = 1
    return text, targets


def _fill(templates: Sequence[str], slots: dict[str, Sequence[str]], limit: int) -> list[str]:
    """Up to `limit` distinct texts from templates with {slot}s, sampled with a fixed seed."""
    rng = random.Random(_SEED + len(templates) * 7919 + limit)
    out: set[str] = set()
    for template in templates:
        names = [n for n in slots if "{" + n + "}" in template]
        combos = list(itertools.product(*(slots[n] for n in names)))
        rng.shuffle(combos)
        for combo in combos[: max(1, limit // len(templates))]:
            out.add(template.format(**dict(zip(names, combo, strict=True))))
    return sorted(out)


_GAME_SLOTS: dict[str, Sequence[str]] = {
    "swear": ["fucking", "fuckin", "so fucking", "damn", "bloody", "goddamn", "shitty", "fkin"],
    "interj": ["holy shit", "fuck", "omg", "wtf", "shit", "fuck me", "holy fuck", "damn"],
    "thing": [
        "boss",
        "level",
        "raid",
        "final phase",
        "dungeon",
        "map",
        "patch",
        "jump",
        "puzzle",
        "queue",
        "ranked",
        "server",
        "lag",
        "matchmaking",
        "second phase",
        "last round",
    ],
    "adj": ["hard", "annoying", "broken", "long", "insane", "unfair", "laggy", "buggy", "tough"],
    "play": [
        "clutch",
        "play",
        "save",
        "ace",
        "comeback",
        "combo",
        "shot",
        "snipe",
        "pentakill",
        "dodge",
        "timing",
    ],
    "name": [
        "jinx",
        "xXsniperXx",
        "tank",
        "mid",
        "our healer",
        "that riki",
        "support",
        "jungler",
        "kev",
        "dude",
        "the carry",
        "pudge",
        "sage",
    ],
    "insult": [
        "noob",
        "trash",
        "bot",
        "clown",
        "garbage",
        "scrub",
        "loser",
        "dogshit",
        "bad",
        "useless",
        "braindead",
        "hardstuck",
        "kid",
    ],
    "enemy": [
        "him",
        "her",
        "the boss",
        "the healer",
        "their carry",
        "the tank",
        "the dragon",
        "that sniper",
        "the mage",
        "them",
        "the last one",
        "the guy on b",
    ],
}

_UNTARGETED = [
    "this {thing} is {swear} {adj}",
    "{interj} that {play}",
    "{interj} what a {play}",
    "{interj} this {thing} is {adj}",
    "that {play} was {swear} sick",
    "lets {swear} go",
    "{interj} i died again",
    "i {swear} hate this {thing}",
    "{swear} {thing} again",
    "{interj} i missed",
    "the {thing} is {swear} {adj} today",
    "{interj} gg that was close",
    "im so {swear} bad at this {thing} lol",
    "{interj} nice {play}",
    "who designed this {swear} {thing}",
]
_SKILL_INSULTS = [
    "you're so {insult}",
    "ur so {insult}",
    "uninstall {insult}",
    "get good {insult}",
    "you are {insult} at this game",
    "{name} is so {insult}",
    "{name} you {insult}",
    "report {name} {insult}",
    "imagine being this {insult}",
    "go back to bronze {insult}",
    "delete the game {insult}",
    "cry more {insult}",
    "you play like a {insult}",
    "{name} uninstall",
    "learn to play {insult}",
    "ur {swear} {insult}",
    "you {swear} {insult}",
    "{name} is {swear} {insult}",
    "how are you this {insult}",
    "stop feeding {insult}",
    "git gud {insult}",
    "get good {name}",
    "ez {insult}",
    "{name} worst player ever",
    "go play something else {insult}",
    "so {insult} lol {name}",
    "{insult} {name}",
    "lmao ur {insult}",
    "you suck {name}",
    "nice try {insult}",
]
_KILL_TALK = [
    "kill {enemy} hes low",
    "kill {enemy}",
    "focus {enemy} and kill",
    "KILL {enemy} NOW",
    "shoot {enemy}",
    "we need to kill {enemy} first",
    "headshot {enemy}",
    "finish {enemy} off",
    "burst {enemy} down",
    "i killed {enemy} lol",
    "gank {enemy} mid",
]
_GAME_CLEAN = [
    "this {thing} is {adj}",
    "the {thing} is so {adj} lol",
    "gg {name} nice {play}",
    "{name} nice {play}",
    "what a {play} {name}",
    "i suck at this {thing}",
    "is the {thing} always this {adj}",
]


def gaming_chat() -> Iterator[Row]:
    for text in _fill(_UNTARGETED, _GAME_SLOTS, 900):
        yield _row(text, "profanity")
    for text in _fill(_SKILL_INSULTS, _GAME_SLOTS, 900):
        profane = any(w in text for w in ("fuck", "fkin", "shit", "damn", "bloody"))
        yield _row(text, "harassment", *(("profanity",) if profane else ()))
    for text in _fill(_KILL_TALK, _GAME_SLOTS, 500):
        yield _row(text)
    for text in _fill(_GAME_CLEAN, _GAME_SLOTS, 400):
        yield _row(text)


_MINOR_SLOTS: dict[str, Sequence[str]] = {
    "age": ["12", "13", "11", "14", "10", "twelve", "thirteen"],
    "kid": ["kid", "little girl", "little boy", "child", "minor", "middle schooler", "preteen"],
    "secret": [
        "dont tell your parents",
        "keep it our secret",
        "delete this chat after",
        "your mom doesnt need to know",
        "this stays between us",
    ],
    "pic": ["pics", "a photo of yourself", "pictures", "a pic without your shirt", "selfies"],
    "trade": ["cp", "child porn", "underage nudes", "pics of underage girls", "jailbait pics"],
    "adult": ["my girlfriend", "my wife", "my boyfriend", "her", "him"],
    "place": ["school", "the park", "soccer practice", "daycare", "the playground"],
}
_MINOR_POSITIVE = [
    "how old are you? {age}? send me {pic} and {secret}",
    "you're {age}? thats fine, send {pic} {secret}",
    "anyone selling {trade}",
    "dm me for {trade}",
    "trading {trade}, add me",
    "i like talking to {kid}s like you, send {pic} {secret}",
    "are you {age}? i want to meet you alone, {secret}",
    "{kid}s are so hot",
    "wanna see something special? you're only {age} but {secret}",
    "looking for {trade} links",
]
_MINOR_CLEAN = [
    "my {age} year old loves this game",
    "picking up my {kid} from {place}",
    "the {kid} at {place} was so cute today",
    "im {age} and this is my first stream",
    "my son is {age} and plays every day",
    "report anyone asking for {pic}, stay safe",
    "parents should watch who their {kid} talks to online",
]
_ADULT_SEXUAL = [
    "i want to have sex with {adult} tonight",
    "sent nudes to {adult} lol",
    "{adult} is so hot i want to fuck",
]


def sexual_minors() -> Iterator[Row]:
    for text in _fill(_MINOR_POSITIVE, _MINOR_SLOTS, 500):
        yield _row(text, "sexual", "sexual/minors")
    for text in _fill(_MINOR_CLEAN, _MINOR_SLOTS, 400):
        yield _row(text)
    for text in _fill(_ADULT_SEXUAL, _MINOR_SLOTS, 60):
        yield _row(text, "sexual", *(("profanity",) if "fuck" in text else ()))


_GROUP_SLOTS: dict[str, Sequence[str]] = {
    "group": [
        "muslims",
        "jews",
        "immigrants",
        "black people",
        "gay people",
        "trans people",
        "mexicans",
        "asians",
        "christians",
        "refugees",
        "arabs",
        "women",
    ],
    "act": ["kill", "shoot", "burn", "hang", "exterminate", "gas", "wipe out", "slaughter"],
    "lead": [
        "we should",
        "someone needs to",
        "time to",
        "i will",
        "lets",
        "we need to",
        "somebody should",
    ],
    "person": ["you", "him", "that guy", "your brother", "ur dad"],
    "neutral": [
        "live in my city",
        "celebrate this week",
        "are in the news",
        "have a festival",
        "work at the hospital",
        "play on my team",
    ],
}
_HATE_THREAT = [
    "{lead} {act} all {group}",
    "{act} every last one of the {group}",
    "{group} deserve to die",
    "{lead} {act} the {group} in this country",
    "the only good {group} is a dead one",
]
_PERSONAL_THREAT = ["i will {act} {person}", "{lead} {act} {person}", "im going to {act} {person}"]
_GROUP_NEUTRAL = ["{group} {neutral}", "many {group} {neutral}", "some {group} {neutral}"]


def hate_threatening() -> Iterator[Row]:
    for text in _fill(_HATE_THREAT, _GROUP_SLOTS, 400):
        yield _row(text, "hate", "hate/threatening", "violence")
    for text in _fill(_PERSONAL_THREAT, _GROUP_SLOTS, 150):
        yield _row(text, "harassment", "harassment/threatening", "violence")
    for text in _fill(_GROUP_NEUTRAL, _GROUP_SLOTS, 200):
        yield _row(text)


_GORE_SLOTS: dict[str, Sequence[str]] = {
    "who": ["his", "her", "the victim's", "the man's", "their"],
    "part": ["guts", "intestines", "brains", "entrails", "eyeballs", "skull"],
    "verb": [
        "spilled out",
        "splattered on the wall",
        "were torn open",
        "hung out",
        "were ripped out",
        "were crushed",
    ],
    "limb": ["arm", "leg", "head", "fingers", "jaw"],
    "weapon": ["knife", "machete", "chainsaw", "axe", "broken bottle"],
    "game": ["blood magic build", "bloodborne", "gore setting", "fatality", "headshot sound"],
}
_GORE = [
    "{who} {part} {verb} and blood everywhere",
    "i cut off {who} {limb} with a {weapon} and watched it bleed",
    "{who} {limb} was severed by the {weapon}, blood pouring out",
    "the body was mutilated, {who} {part} {verb}",
    "skinned alive with a {weapon}, {who} {part} {verb}",
]
_PLAIN_VIOLENCE = ["he hit {who} friend with a {weapon}", "they attacked him with a {weapon}"]
_GAME_GORE = ["the {game} is sick", "love the {game} in this game", "try the {game}"]


def violence_graphic() -> Iterator[Row]:
    for text in _fill(_GORE, _GORE_SLOTS, 400):
        yield _row(text, "violence", "violence/graphic")
    for text in _fill(_PLAIN_VIOLENCE, _GORE_SLOTS, 80):
        yield _row(text, "violence")
    for text in _fill(_GAME_GORE, _GORE_SLOTS, 60):
        yield _row(text)


_SELF_SLOTS: dict[str, Sequence[str]] = {
    "pills": ["pills", "tylenol", "sleeping pills", "painkillers", "paracetamol"],
    "where": ["my wrists", "my arms", "my thighs", "myself"],
    "ask": ["how do i", "whats the best way to", "tell me how to", "easiest way to"],
    "urge": ["you should", "just", "go", "why dont you"],
    "act": ["kill yourself", "cut deeper", "starve yourself", "end it", "jump off a bridge"],
    "game": ["cut the lane", "cut the wave", "kill the creeps", "end the game fast"],
}
_SELF_INSTRUCTIONS = [
    "how many {pills} does it take to overdose",
    "{ask} cut {where} without anyone noticing",
    "{ask} hide the cuts on {where}",
    "{ask} kill myself painlessly",
    "take all the {pills} at once, it works",
    "{urge} {act}",
    "{urge} {act}, nobody would miss you",
]
_SELF_DISCLOSURE = [
    "i have been clean from cutting {where} for a year",
    "i used to take {pills} to cope but im getting help now",
    "sometimes i think about hurting {where}",
]
_SELF_GAME = ["{ask} {game}", "{urge} {game}", "we need to {game}"]


def self_harm_instructions() -> Iterator[Row]:
    urges = tuple(_SELF_SLOTS["urge"])
    for text in _fill(_SELF_INSTRUCTIONS, _SELF_SLOTS, 300):
        # Urging someone else to hurt themselves is aimed at them: harassment too.
        aimed = ("harassment",) if text.startswith(urges) else ()
        yield _row(text, "self-harm", "self-harm/instructions", *aimed)
    for text in _fill(_SELF_DISCLOSURE, _SELF_SLOTS, 40):
        yield _row(text, "self-harm")
    for text in _fill(_SELF_GAME, _SELF_SLOTS, 60):
        yield _row(text)


_ILLICIT_SLOTS: dict[str, Sequence[str]] = {
    "ask": [
        "how do i",
        "how to",
        "whats the easiest way to",
        "tell me how to",
        "can someone show me how to",
    ],
    "weapon": [
        "a pipe bomb",
        "a molotov cocktail",
        "a ghost gun",
        "napalm",
        "an untraceable gun",
        "a silencer",
        "a nail bomb",
    ],
    "aim": ["to hurt people", "for the school", "to use on my neighbor", "", "to kill him"],
    "crime": ["shoplift", "pick a lock", "cheat on my taxes", "get fake ids", "pirate movies"],
    "craft": ["a sword in minecraft", "a bomb in terraria", "a gun in rust", "bread", "a shield"],
}
_ILLICIT_VIOLENT = [
    "{ask} make {weapon} {aim}",
    "where can i buy {weapon} {aim}",
    "{ask} get {weapon} without a background check",
]
_ILLICIT_PLAIN = ["{ask} {crime}", "{ask} {crime} without getting caught"]
_CRAFTING = ["{ask} make {craft}", "{ask} craft {craft}"]


def illicit_violent() -> Iterator[Row]:
    for text in _fill(_ILLICIT_VIOLENT, _ILLICIT_SLOTS, 250):
        yield _row(text.strip(), "illicit", "illicit/violent", "violence")
    for text in _fill(_ILLICIT_PLAIN, _ILLICIT_SLOTS, 60):
        yield _row(text, "illicit")
    for text in _fill(_CRAFTING, _ILLICIT_SLOTS, 60):
        yield _row(text)


_SCUNTHORPE_SLOTS: dict[str, Sequence[str]] = {
    "word": [
        "classic",
        "cocktail",
        "cockpit",
        "assassin",
        "bass",
        "passing",
        "class",
        "grass",
        "shiitake",
        "scunthorpe",
        "hancock",
        "dickens",
        "peacock",
        "therapist",
        "analysis",
        "assist",
        "glasses",
        "compass",
        "cockatoo",
        "harass",
        "shitake",
        "snigger",
        "embarrass",
        "document",
        "circumstance",
        "skillshot",
        "hello",
        "shell",
        "pushit",
    ],
    "name": [
        "Shital",
        "Dick",
        "Cumberbatch",
        "Hoare",
        "Butts",
        "Assange",
        "Titley",
        "Cockburn",
        "Sussex",
        "Essex",
        "Middlesex",
        "Lipschitz",
        "Kuntz",
        "Fuchs",
        "Wang",
    ],
    "event": [
        "joined the raid",
        "is live now",
        "won the round",
        "just subbed",
        "hosted us",
        "is in the lobby",
        "got the mvp",
        "left the party",
    ],
    "tail": ["play", "hour", "build", "skin", "time", "round", "night", "map"],
}
_SCUNTHORPE = [
    "{word} {tail}",
    "{name} {event}",
    "that {word} {tail} was great",
    "gg {name}",
    "{name} {event} with a {word} {tail}",
]


def scunthorpe() -> Iterator[Row]:
    for text in _fill(_SCUNTHORPE, _SCUNTHORPE_SLOTS, 700):
        yield _row(text)


_INSULT_SLOTS: dict[str, Sequence[str]] = {
    "noun": [
        "loser",
        "noob",
        "clown",
        "idiot",
        "moron",
        "failure",
        "muppet",
        "donkey",
        "waste of space",
    ],
    "adj": [
        "bad",
        "trash",
        "garbage",
        "dogwater",
        "useless",
        "terrible",
        "awful",
        "pathetic",
        "washed",
        "clueless",
        "dumb",
        "stupid",
        "worthless",
        "hopeless",
    ],
    "name": ["kev", "mid", "jinx", "our support", "that riki", "dude", "bro", "@sam", "tank"],
    "tail": ["nobody asked", "no one cares", "go away", "shut up", "cry about it", "log off"],
    "thing": [
        "game",
        "boss",
        "patch",
        "map",
        "server",
        "matchmaking",
        "update",
        "queue",
        "lobby",
        "new season",
        "level design",
        "ending",
    ],
    "show": ["that show", "the concert", "this song", "the finale", "that movie", "the party"],
    "site": ["a", "b", "the site", "mid", "their base"],
    "self": ["idiot", "dumb", "stupid", "noob", "clown", "bot", "potato", "rookie"],
    # What players say of a game they are losing at; what they say of a player they admire.
    "meh": ["trash", "garbage", "bad", "awful", "terrible", "dogwater", "broken", "rigged"],
    "praise": ["good", "cracked", "fast", "clutch", "strong", "smart", "goated", "nice"],
    "hero": ["legend", "beast", "hero", "king", "pro", "champ", "genius", "machine", "wizard"],
}
#: Insults at a person without a swear word: what the public data rarely shows without one.
_TARGETED = [
    "hey {noun}, {tail}",
    "{tail} {noun}",
    "what a {noun}",
    "what a {noun} lol",
    "{name} what a {noun}",
    "you're such a {noun}",
    "ur such a {noun}",
    "{name} is such a {noun}",
    "you're so {adj}",
    "ur so {adj}",
    "ur {adj}",
    "you're {adj}",
    "{name} ur {adj}",
    "you're {adj} at this",
    "you're {adj} at this {thing}",
    "ur {adj} at this {thing}",
    "you are so {adj} at this",
    "you are so {adj} at this {thing}",
    "you are {adj}",
    "omg what a {noun}",
    "you're {adj}, {tail}",
    "imagine being such a {noun}",
    "nobody likes you {noun}",
    "{name} you're a {noun}",
    "stop talking {noun}",
    "you're the worst {noun} here",
    "{self} move by you",
    "{self} play by you lol",
    "{self} call by you",
]
#: The same words at oneself, at the game or as praise, and hype that borrows violent words.
_SELF_TALK = [
    "{self} move by me",
    "{self} mistake on my part",
    "{self} play by me, sorry",
    "i'm so {adj} at this lol",
    "im {adj} at this {thing}",
    "i'm such a {noun} lol",
    "what a {noun} i am",
    "i played like a {noun} that round",
    "my bad, i'm {adj} today",
    "i feel so {adj} right now lol",
    "so {self} of me",
    "{self} me, forgot to heal",
    "my {self} mistake, sorry",
    "i'm the {self} here lol",
    "i was such a {self} that round",
    "that was {self} of me",
    "ugh im so {self}",
    "{self} moment by me lol",
    "i'm being so {self} today",
    "why am i so {self}",
    "my bad, {self} play",
    "my bad, that was {self}",
    "my bad, {self} move",
    "that's on me, {self} play",
    "i'm such an idiot lol",
    "im such an idiot, sorry team",
    "my fault, {self} play",
    "{self} play by me",
    "{self} call by me lol",
    "{noun} move by me",
    "{self} move by me, my bad",
]
_AT_THE_GAME = [
    "this {thing} is {meh}",
    "this {thing} is so {meh}",
    "the {thing} is {meh} lol",
    "this {thing} is {meh} today",
    "the new {thing} is {meh}",
    "honestly this {thing} is {meh}",
]
#: The same shapes aimed at a player as praise or plain talk: second person is not an insult.
_TARGETED_CLEAN = [
    "hey {hero}, nice one",
    "what a {hero}",
    "{name} what a {hero}",
    "you're such a {hero}",
    "ur such a {hero}",
    "you are a {hero}",
    "you're so {praise}",
    "ur so {praise}",
    "ur {praise}",
    "{name} ur {praise}",
    "you're {praise} at this {thing}",
    "you are so {praise} at this",
    "you're right, my bad",
    "you're up next {name}",
    "ur ult is ready {name}",
    "you're doing fine {name}",
    "you played well {name}",
]
_HYPE = [
    "bomb {site}",
    "he got destroyed",
    "{name} got destroyed",
    "we destroyed them",
    "they got wrecked {site}",
    "kill the boss first {name}!",
    "kill the boss!",
    "headshot him",
    "headshot {name}",
    "you killed it tonight {name}",
    "you're killing it {name}",
    "{show} killed it",
    "that joke killed me lol",
    "im dead lol {show} was so good",
    "that boss destroyed me",
    "this {thing} is killing me lol",
    "we murdered them that round",
    "nuke {site}",
    "i would kill for a pizza right now",
    "{show} slaps",
]


def chat_insults() -> Iterator[Row]:
    for text in _fill(_TARGETED, _INSULT_SLOTS, 1000):
        yield _row(text, "harassment")
    for text in _fill(_SELF_TALK, _INSULT_SLOTS, 640):
        yield _row(text)
    for text in _fill(_AT_THE_GAME, _INSULT_SLOTS, 350):
        yield _row(text)
    for text in _fill(_TARGETED_CLEAN, _INSULT_SLOTS, 500):
        yield _row(text)
    for text in _fill(_HYPE, _INSULT_SLOTS, 500):
        yield _row(text)


#: Every synthetic source by name.
GENERATORS = {
    "synthetic_gaming_chat": gaming_chat,
    "synthetic_sexual_minors": sexual_minors,
    "synthetic_hate_threatening": hate_threatening,
    "synthetic_violence_graphic": violence_graphic,
    "synthetic_self_harm_instructions": self_harm_instructions,
    "synthetic_illicit_violent": illicit_violent,
    "synthetic_scunthorpe": scunthorpe,
    "synthetic_chat_insults": chat_insults,
}
#: Sample weight per synthetic source (1 when not listed): the game-chat distinctions are few
#: rows against a hundred thousand, and the fast path lives on them.
WEIGHTS = {
    "synthetic_gaming_chat": 2.0,
    "synthetic_scunthorpe": 2.0,
    "synthetic_chat_insults": 2.0,
}
