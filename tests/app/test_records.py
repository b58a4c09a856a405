"""User records, the audit log, erasure, API keys and the statistics through the application
layer, on SQLite and PostgreSQL; every change is recorded with the principal who made it."""

from __future__ import annotations

from chatguard.app import Application, AuditQuery
from chatguard.service import ModerationService
from tests.app.conftest import ADMIN, INGEST, MODERATOR, message


async def test_strikes_climb_the_ladder_and_show_in_the_standing(app: Application) -> None:
    for _ in range(2):
        await app.moderation.moderate(INGEST, message("kys loser"))
    standing = await app.users.standing(MODERATOR, "lobby", "viewer")
    assert len(standing.strikes) == len(standing.active) == 2
    assert standing.next_rung.position == 3 and standing.decay_s > 0
    other = await app.users.standing(MODERATOR, "lobby", "someone-else")
    assert other.strikes == () and other.next_rung.position == 1


async def test_the_audit_log_filters_by_user_and_pages_back(app: Application) -> None:
    await app.moderation.moderate(INGEST, message("kys loser", user="a"))
    await app.moderation.moderate(INGEST, message("kys loser", user="b"))
    [newest] = await app.audit.entries(MODERATOR, AuditQuery(channel_id="lobby", limit=1))
    assert (newest.user_id, newest.action, newest.actor_kind) == ("b", "decision.delete", "system")
    assert newest.id is not None
    older = await app.audit.entries(MODERATOR, AuditQuery(before_id=newest.id))
    assert [e.user_id for e in older] == ["a"]


async def test_erasure_removes_the_users_data_and_is_audited_as_the_admin(
    app: Application, service: ModerationService
) -> None:
    await app.moderation.moderate(INGEST, message("kys loser"))
    await app.moderation.moderate(INGEST, message("hello", user="stays"))
    report = await app.erasure.erase_user(ADMIN, "lobby", "viewer", reason="request")
    assert (report.messages, report.strikes) == (1, 1)
    assert (await app.users.standing(MODERATOR, "lobby", "viewer")).strikes == ()
    assert service.store is not None and await service.store.count("messages") == 1
    [entry] = await app.audit.entries(MODERATOR, AuditQuery(actor="owner"))
    assert (entry.action, entry.reason, entry.details["messages"]) == ("user.erased", "request", 1)


async def test_a_new_key_ends_open_mode_at_once_and_its_making_is_audited(
    app: Application,
) -> None:
    authenticator = app.keys.authenticator
    assert authenticator is not None and not await authenticator.keys_exist()
    made = await app.keys.create(ADMIN, owner="bot", scopes=["ingest"], may_assert_roles=True)
    assert await authenticator.keys_exist()
    principal = await authenticator.authenticate(made.secret)
    assert principal.owner == "bot" and principal.may_assert_roles
    [key] = await app.keys.list(ADMIN)
    assert key.key_id == made.key.key_id and made.secret not in repr(made)
    [entry] = await app.audit.entries(MODERATOR, AuditQuery(actor="owner"))
    assert entry.action == "key.created" and entry.details["owner"] == "bot"


async def test_the_summary_counts_what_was_moderated(app: Application) -> None:
    await app.moderation.moderate(INGEST, message("hello"))
    await app.moderation.moderate(INGEST, message("kys loser"))
    await app.moderation.moderate_many(INGEST, [message("gg"), message("well fuck that")])
    summary = await app.stats.summary(MODERATOR)
    assert summary.messages == 4
    assert summary.by_action == {"allow": 2, "delete": 1, "hold": 1}
    assert sum(summary.by_stage.values()) == 4
    assert summary.flagged.get("harassment/threatening") == 1
    # The uncertain one went past the last stage unsettled: it counts as escalated.
    assert (summary.escalations, summary.escalation_rate) == (1, 0.25)


async def test_health_names_each_component_and_metrics_render(app: Application) -> None:
    report = await app.stats.health()
    assert report.status == "ok" and report.serving
    assert report.stages == ("rules",)
    assert "database" in {c.name for c in report.components}
    text = await app.stats.metrics_text()
    assert b'chatguard_component_up{component="database"} 1.0' in text


async def test_dead_letters_are_listed_empty_without_webhooks(app: Application) -> None:
    assert await app.webhooks.dead_letters(MODERATOR) == []
