"""Reading a database's decisions and their side effects back, for the exactly-once tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@dataclass
class Ledger:
    """Per message id: the stored action and reason, its automatic strikes, its system audit
    entries about the decision (`decision.*` actions) and its webhook deliveries. Automatic
    strikes are the ladder's own (`auto`) and those of a flood burst (`flood`)."""

    actions: dict[str, str]
    reasons: dict[str, str]
    provisional: dict[str, bool]
    strikes: Counter[str]
    audits: dict[str, list[str]]
    #: Per message id, the kind of each entry's effect key (`decision`, `final`).
    audit_kinds: dict[str, list[str]]
    deliveries: Counter[tuple[str, str]]
    messages: int

    def check_exactly_once(self, prefix: str = "") -> None:
        """Every stored decision (of the message ids that begin with `prefix`) has at most one
        strike and one system entry per kind, the entry says the stored action, and no effect
        exists without its stored decision."""
        assert set(self.strikes) <= set(self.actions), "a strike without a stored decision"
        assert set(self.audits) <= set(self.actions), "an audit entry without a stored decision"
        for message_id, action in self.actions.items():
            if not message_id.startswith(prefix):
                continue
            expected_strikes = 1 if "; strike " in self.reasons[message_id] else 0
            assert self.strikes[message_id] == expected_strikes, (
                message_id,
                self.reasons[message_id],
                self.provisional[message_id],
                self.strikes[message_id],
            )
            entries = self.audits.get(message_id, [])
            if action == "allow" and not self.provisional[message_id]:
                assert all(e != "decision.allow" for e in entries), message_id
            else:
                assert entries.count(f"decision.{action}") >= 1, (
                    message_id,
                    action,
                    self.reasons[message_id],
                    entries,
                )
            # One entry for the first decision and one for a final decision that replaced a
            # provisional one (which may say the same action), never more.
            kinds = self.audit_kinds.get(message_id, [])
            assert len(kinds) == len(set(kinds)) == len(entries) <= 2, (message_id, entries, kinds)
        assert all(n == 1 for n in self.deliveries.values()), self.deliveries


async def read_ledger(url: str) -> Ledger:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as c:
            rows = (
                await c.execute(
                    text("SELECT message_id, action, reason, provisional FROM decisions")
                )
            ).all()
            strikes = Counter(
                r[0]
                for r in await c.execute(
                    text("SELECT message_id FROM strikes WHERE source IN ('auto', 'flood')")
                )
            )
            audits: dict[str, list[str]] = {}
            audit_kinds: dict[str, list[str]] = {}
            for message_id, action, key in await c.execute(
                text(
                    "SELECT message_id, action, effect_key FROM audit_log "
                    "WHERE actor_kind = 'system' AND action LIKE 'decision.%'"
                )
            ):
                audits.setdefault(message_id, []).append(action)
                audit_kinds.setdefault(message_id, []).append(str(key).split(":", 1)[0])
            deliveries = Counter(
                (r[0], r[1])
                for r in await c.execute(
                    text("SELECT message_id, event_type FROM webhook_deliveries")
                )
            )
            messages = int((await c.execute(text("SELECT COUNT(*) FROM messages"))).scalar_one())
    finally:
        await engine.dispose()
    return Ledger(
        actions={r[0]: r[1] for r in rows},
        reasons={r[0]: r[2] for r in rows},
        provisional={r[0]: bool(r[3]) for r in rows},
        strikes=strikes,
        audits=audits,
        audit_kinds=audit_kinds,
        deliveries=deliveries,
        messages=messages,
    )
