"""The IRC bot against a real IRC server: a toxic author is removed per channel policy, a clean
one is left alone."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest

from chatguard.config import Settings
from chatguard.connectors.irc import IrcConnector, IrcLine
from chatguard.connectors.runner import run_connector
from chatguard.domain import Role
from chatguard.events import ACTIONS_TOPIC, ActionEnforced
from chatguard.events.legacy import client_form, from_client_form
from chatguard.service import DECISIONS_TOPIC, ModerationService
from tests.connectors.conftest import IrcClient

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The rule stage alone: fixed scores, so what the bot does follows from the policy.
    return settings.model_copy(update={"pipeline_stages": "rules"})


CASES = [
    # preset, what the toxic author's first offence costs on a plain IRC server
    pytest.param(None, {"KICK"}, id="default-policy-kicks"),
    pytest.param({"preset": "kids"}, {"MODE +b", "KICK"}, id="kids-policy-bans-for-timeout"),
    pytest.param(
        {"preset": "default", "actions": {"high": "ban"}}, {"MODE +b", "KICK"}, id="ban-policy"
    ),
]


def _kicked(nick: str, channel: str) -> Any:
    return lambda line: (
        line.command == "KICK" and line.params[0] == channel and line.params[1] == nick
    )


def _banned(nick: str, channel: str) -> Any:
    return lambda line: (
        line.command == "MODE"
        and line.params[0] == channel
        and line.params[1] == "+b"
        and line.params[2].startswith(f"{nick}!")
    )


@pytest.mark.parametrize(("override", "expected"), CASES)
async def test_bot_removes_the_toxic_author_and_spares_the_clean_one(
    ngircd: int, settings: Settings, override: dict[str, Any] | None, expected: set[str]
) -> None:
    channel = f"#room{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]  # nicks of their own: the server frees a nick a moment after QUIT
    toxic_nick, clean_nick = f"toxic{tag}", f"clean{tag}"
    service = ModerationService.from_settings(settings)
    await service.start()
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for event in service.events.subscribe(DECISIONS_TOPIC):
            events.append(client_form(event))

    collector = asyncio.create_task(collect())
    bot = IrcConnector(
        host="127.0.0.1", port=ngircd, nick=f"gb{uuid.uuid4().hex[:6]}", channels=[channel]
    )
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        if override is not None:
            await service.decider.policies.put(  # type: ignore[attr-defined]
                channel.lstrip("#"), override, actor="test"
            )
        await asyncio.wait_for(ready.wait(), 10)
        async with IrcClient(ngircd, toxic_nick) as toxic, IrcClient(ngircd, clean_nick) as clean:
            await toxic.join(channel)
            await clean.join(channel)
            await clean.say(channel, "good game everyone, well played")
            await toxic.say(channel, "kys loser")

            kick = await clean.wait_for(_kicked(toxic_nick, channel))
            assert "harassment/threatening" in kick.params[2]  # why, never what was said
            if "MODE +b" in expected:
                await clean.wait_for(_banned(toxic_nick, channel))
            else:
                assert not any(_banned(toxic_nick, channel)(line) for line in clean.lines)

            by_user = {e["user_id"]: e for e in events if e.get("type") == "decision"}
            assert by_user[clean_nick]["action"] == "allow"
            assert by_user[toxic_nick]["action"] in {"delete", "timeout", "ban"}
            assert not any(
                line.command in ("KICK", "MODE") and clean_nick in line.params
                for line in clean.lines
            )
            assert not any(clean_nick in command for command in bot.sent)
            # The clean author is still in the channel and can keep talking.
            mark = clean.mark()
            await clean.send(f"NAMES {channel}")
            names = await clean.wait_for(lambda line: line.command == "353", after=mark)
            assert clean_nick in names.params[-1] and toxic_nick not in names.params[-1]
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        await service.close()


def test_irc_lines_parse_tags_prefix_and_trailing() -> None:
    line = IrcLine.parse(
        "@badges=moderator/1,subscriber/12;id=abc-1;display-name=A\\sB "
        ":someone!someone@host PRIVMSG #chan :hello there :)"
    )
    assert line.command == "PRIVMSG"
    assert line.params == ("#chan", "hello there :)")
    assert line.nick == "someone"
    assert line.tags["id"] == "abc-1" and line.tags["display-name"] == "A B"


async def test_a_denial_in_the_review_queue_is_enforced_in_the_channel(
    ngircd: int, settings: Settings
) -> None:
    channel = f"#held{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    swearer_nick, other_nick = f"swear{tag}", f"other{tag}"
    service = ModerationService.from_settings(settings)
    await service.start()
    bot = IrcConnector(
        host="127.0.0.1", port=ngircd, nick=f"rb{uuid.uuid4().hex[:6]}", channels=[channel]
    )
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with (
            IrcClient(ngircd, swearer_nick) as swearer,
            IrcClient(ngircd, other_nick) as other,
        ):
            await swearer.join(channel)
            await other.join(channel)
            await swearer.say(channel, "well fuck that")  # uncertain: held for review
            reviews = service.decider.reviews  # type: ignore[attr-defined]
            for _ in range(200):
                items = await reviews.items(channel_id=channel.lstrip("#"))
                if items:
                    break
                await asyncio.sleep(0.02)
            [item] = items
            assert not any(line.command == "KICK" for line in other.lines)  # held, not removed
            enforced = service.events.subscribe(ACTIONS_TOPIC)
            reported = asyncio.ensure_future(anext(enforced))
            await asyncio.sleep(0)
            await reviews.deny(item.id, actor="mod_anna", reason="not here")
            kick = await other.wait_for(_kicked(swearer_nick, channel))
            assert "after review" in kick.params[2]
            action = await asyncio.wait_for(reported, 10)
            assert isinstance(action, ActionEnforced) and action.ok
            assert (action.message_id, action.connector) == (item.message_id, bot.name)
            await enforced.aclose()  # type: ignore[attr-defined]
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await service.close()


@pytest.mark.parametrize(
    ("names", "nick", "roles"),
    [
        pytest.param("@mod +helper viewer", "mod", {Role.MODERATOR}, id="op-is-moderator"),
        pytest.param("@mod +helper viewer", "helper", {Role.VIP}, id="voice-is-vip"),
        pytest.param("@mod +helper viewer", "viewer", set(), id="viewer"),
        pytest.param("~owner", "owner", {Role.BROADCASTER}, id="owner-is-broadcaster"),
    ],
)
def test_plain_irc_channel_status_becomes_roles(names: str, nick: str, roles: set[Role]) -> None:
    bot = IrcConnector(host="h", port=1, nick="bot", channels=["#c"])
    bot._handle(IrcLine.parse(f":srv 353 bot = #c :{names}"))
    bot._handle(IrcLine.parse(f":{nick}!u@h PRIVMSG #c :hi"))
    message = bot._queue.get_nowait()
    assert message is not None and set(message.roles) == roles
    assert (message.channel_id, message.user_id) == ("c", nick)


def test_mode_changes_update_roles() -> None:
    bot = IrcConnector(host="h", port=1, nick="bot", channels=["#c"])
    bot._handle(IrcLine.parse(":srv 353 bot = #c :viewer"))
    bot._handle(IrcLine.parse(":op!u@h MODE #c +o viewer"))
    bot._handle(IrcLine.parse(":viewer!u@h PRIVMSG #c :hi"))
    first = bot._queue.get_nowait()
    bot._handle(IrcLine.parse(":op!u@h MODE #c -o viewer"))
    bot._handle(IrcLine.parse(":viewer!u@h PRIVMSG #c :hi"))
    second = bot._queue.get_nowait()
    assert first is not None and first.roles == {Role.MODERATOR}
    assert second is not None and second.roles == frozenset()


def test_twitch_badges_become_roles_and_the_message_id_is_kept() -> None:
    bot = IrcConnector(host="h", port=1, nick="bot", channels=["#streamer"], twitch=True)
    bot._handle(
        IrcLine.parse(
            "@badges=vip/1,subscriber/6;id=5f1e-msg :fan!fan@fan.tmi.twitch.tv "
            "PRIVMSG #streamer :hello"
        )
    )
    message = bot._queue.get_nowait()
    assert message is not None
    assert message.roles == {Role.VIP, Role.SUBSCRIBER} and message.id == "5f1e-msg"


TWITCH = [
    pytest.param(None, ("/delete ",), id="default-deletes"),
    pytest.param({"preset": "kids"}, (".timeout {toxic} 600 ",), id="kids-times-out"),
    pytest.param({"preset": "default", "actions": {"high": "ban"}}, (".ban {toxic} ",), id="ban"),
]


@pytest.mark.parametrize(("override", "commands"), TWITCH)
async def test_twitch_mode_speaks_twitch_chat_commands(
    ngircd: int, settings: Settings, override: dict[str, Any] | None, commands: tuple[str, ...]
) -> None:
    channel = f"#tw{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    bot_nick, toxic_nick, viewer_nick = f"tw{tag}", f"toxic{tag}", f"viewer{tag}"
    service = ModerationService.from_settings(settings)
    await service.start()
    bot = IrcConnector(
        host="127.0.0.1", port=ngircd, nick=bot_nick, channels=[channel], twitch=True
    )
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        if override is not None:
            await service.decider.policies.put(  # type: ignore[attr-defined]
                channel.lstrip("#"), override, actor="test"
            )
        await asyncio.wait_for(ready.wait(), 10)
        async with IrcClient(ngircd, toxic_nick) as toxic, IrcClient(ngircd, viewer_nick) as viewer:
            await toxic.join(channel)
            await viewer.join(channel)
            await toxic.say(channel, "kys")
            said = await viewer.wait_for(
                lambda line: line.command == "PRIVMSG" and line.nick == bot_nick
            )
            assert said.params[0] == channel
            assert said.params[1].startswith(tuple(c.format(toxic=toxic_nick) for c in commands))
            assert not any(line.command == "KICK" for line in viewer.lines)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await service.close()


def test_a_me_action_is_moderated_as_what_it_says() -> None:
    bot = IrcConnector(host="h", port=1, nick="bot", channels=["#c"])
    bot._handle(IrcLine.parse(":someone!u@h PRIVMSG #c :\x01ACTION says kys\x01"))
    message = bot._queue.get_nowait()
    assert message is not None and message.text == "says kys"


@pytest.mark.parametrize(
    ("where", "nick", "sent"),
    [
        pytest.param("joined", "troll", True, id="joined-channel-valid-nick"),
        pytest.param("elsewhere", "troll", False, id="channel-not-served"),
        pytest.param("joined", "two words", False, id="nick-with-space"),
        pytest.param("joined", "*", False, id="mask"),
    ],
)
async def test_only_valid_nicks_in_served_channels_are_acted_on(
    ngircd: int, where: str, nick: str, sent: bool
) -> None:
    from chatguard.domain import Action

    channel = f"#v{uuid.uuid4().hex[:8]}"
    bot = IrcConnector(
        host="127.0.0.1", port=ngircd, nick=f"vb{uuid.uuid4().hex[:6]}", channels=[channel]
    )
    await bot.connect()
    try:
        channel_id = channel.lstrip("#") if where == "joined" else "elsewhere"
        if bot.serves(channel_id):
            await bot.apply(channel_id=channel_id, user_id=nick, action=Action.BAN)
    finally:
        await bot.close()
    expected = [f"MODE {channel} +b troll!*@*", f"KICK {channel} troll :chatguard"]
    assert bot.sent == (expected if sent else [])


async def test_a_late_final_decision_is_enforced(
    ngircd: int, fake_llm: Any, settings: Settings
) -> None:
    # The LLM answers after the deadline: the message first gets a provisional hold (chat
    # has shown it; nothing to do), then the final delete arrives and the bot kicks.
    fake_llm.reset()
    fake_llm.script("delay:0.5")
    channel = f"#late{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    author, witness = f"late{tag}", f"wit{tag}"
    config = settings.model_copy(
        update={
            "llm_endpoint": fake_llm.url,
            "llm_deadline_ms": 50.0,
            "llm_max_retries": 0,
            "pipeline_stages": "rules,llm",
        }
    )
    service = ModerationService.from_settings(config)
    assert service.pipeline.stage_names == ["rules", "llm"]
    await service.start()
    bot = IrcConnector(host="127.0.0.1", port=ngircd, nick=f"lb{tag}", channels=[channel])
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with IrcClient(ngircd, author) as rude, IrcClient(ngircd, witness) as other:
            await rude.join(channel)
            await other.join(channel)
            await rude.say(channel, "shit, you idiot")
            kick = await other.wait_for(_kicked(author, channel), timeout=10)
            assert "harassment" in kick.params[2]
            assert fake_llm.completions  # the verdict came from the adjudicator
            metrics = service.metrics.render().decode()
            assert 'chatguard_provisional_decisions_total{action="hold"} 1.0' in metrics
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await service.close()


def _notice_to(nick: str) -> Any:
    return lambda line: line.command == "NOTICE" and line.params[0] == nick


@pytest.mark.parametrize("action", ["hold", "delete"])
async def test_a_person_in_crisis_gets_the_resources_privately_and_is_not_kicked(
    ngircd: int, settings: Settings, action: str
) -> None:
    channel = f"#care{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    bot_nick, ria_nick, other_nick = f"cb{tag}", f"ria{tag}", f"other{tag}"
    resources = "You are not alone. Call or text 988 (US) or see findahelpline.com, any time."
    service = ModerationService.from_settings(settings)
    await service.start()
    bot = IrcConnector(host="127.0.0.1", port=ngircd, nick=bot_nick, channels=[channel])
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        await service.decider.policies.put(  # type: ignore[attr-defined]
            channel.lstrip("#"), {"crisis": {"message": resources, "action": action}}, actor="test"
        )
        await asyncio.wait_for(ready.wait(), 10)
        async with IrcClient(ngircd, ria_nick) as ria, IrcClient(ngircd, other_nick) as other:
            await ria.join(channel)
            await other.join(channel)
            await ria.say(channel, "i want to kill myself tonight, i can't do this anymore")
            notice = await ria.wait_for(_notice_to(ria_nick))
            assert notice.nick == bot_nick and notice.params[1] == resources
            # A hold waits for a human, first in the queue. Plain IRC can remove a line only
            # by kicking its author, so a crisis "delete" is not enforced there.
            reviews = service.decider.reviews  # type: ignore[attr-defined]
            items = await reviews.items(channel_id=channel.lstrip("#"))
            if action == "hold":
                [item] = items
                assert item.priority == 100 and item.user_id == ria_nick
            else:
                assert items == []
            # Encouragement is still removed. The bot handles lines in order, so once this
            # kick arrives, anything it would have done about the crisis has happened.
            await other.say(channel, "kys")
            await ria.wait_for(_kicked(other_nick, channel))
            assert not any(_kicked(ria_nick, channel)(line) for line in other.lines)
            assert not any(_banned(ria_nick, channel)(line) for line in other.lines)
            assert not any(line.command == "NOTICE" for line in other.lines)  # private
            assert not any(ria_nick in c for c in bot.sent if not c.startswith("NOTICE"))
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await service.close()


async def test_an_unanswered_crisis_hold_does_not_kick_but_a_denial_does(
    ngircd: int, settings: Settings
) -> None:
    channel = f"#exp{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    ria_nick, sam_nick = f"ria{tag}", f"sam{tag}"
    service = ModerationService.from_settings(settings)
    await service.start()
    bot = IrcConnector(
        host="127.0.0.1", port=ngircd, nick=f"eb{uuid.uuid4().hex[:6]}", channels=[channel]
    )
    ready = asyncio.Event()
    runner = asyncio.create_task(run_connector(service, bot, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with IrcClient(ngircd, ria_nick) as ria, IrcClient(ngircd, sam_nick) as sam:
            await ria.join(channel)
            await sam.join(channel)
            room = channel.lstrip("#")
            # What the review queue publishes when a crisis hold times out, then when a
            # moderator denies one: the first is not enforced, the second is.
            for user, status in ((ria_nick, "expired"), (sam_nick, "denied")):
                await service.events.publish(
                    DECISIONS_TOPIC,
                    from_client_form(
                        {
                            "type": "review.resolved",
                            "review_id": uuid.uuid4().hex,
                            "message_id": uuid.uuid4().hex,
                            "channel_id": room,
                            "user_id": user,
                            "status": status,
                            "action": "delete",
                            "duration_s": None,
                            "resolved_by": "system",
                            "priority": 100,
                            "at": 0.0,
                        }
                    ),
                )
            await ria.wait_for(_kicked(sam_nick, channel))
            assert not any(_kicked(ria_nick, channel)(line) for line in sam.lines)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await service.close()


def test_a_long_notice_is_split_between_words_within_a_line() -> None:
    from chatguard.connectors.irc import NOTICE_BYTES, _chunks

    text = " ".join(["héllo"] * 150) + " " + "x" * 500
    pieces = _chunks(text, NOTICE_BYTES)
    assert all(len(p.encode("utf-8")) <= NOTICE_BYTES for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
