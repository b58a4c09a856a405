"""The typed, versioned events that carry the moderation flow between parts and processes.

Every event has one JSON form: an object with `type` (what happened), `version` (of that
type's form), `event_id` (unique per event, for de-duplication by consumers), `occurred_at`
(Unix seconds, UTC) and the typed payload fields of its type. Payloads reuse the domain types
(`Message`, `Assessment`, `Action`, ...), so a consumer in another process rebuilds the same
objects. Only `MessageReceived` and `RoleCallRequested` (work items of one role for another,
on work streams only) carry message text; every other event carries ids, scores, offsets and
actions. See docs/events.md for the catalogue and the versioning rule.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatguard.domain import Action, Assessment, Message
from chatguard.taxonomy import Category

#: A review item's status (`chatguard.decisions.records.ReviewStatus`, spelled out here so the
#: events stay free of the decisions package).
ReviewStatusName = Literal["pending", "approved", "denied", "expired", "superseded"]


def _new_id() -> str:
    return uuid.uuid4().hex


class EventBase(BaseModel):
    """The fields every event has. Subclasses fix `type` and `version` with a `Literal`."""

    # Tolerant readers: a field added by a newer producer of the same version is ignored, so
    # adding an optional field needs no new version (docs/events.md, Versioning).
    model_config = ConfigDict(frozen=True, extra="ignore")

    #: Declared here so that every event's JSON form starts with them; narrowed per class.
    type: str
    version: int
    event_id: str = Field(default_factory=_new_id, min_length=1, max_length=64)
    occurred_at: float = Field(default_factory=time.time, description="Unix seconds, UTC")


class MessageReceived(EventBase):
    """A chat message was accepted for moderation. The only event with message text: it is
    the work item of the ingest stream and is never sent to the moderators' live stream."""

    type: Literal["message.received"] = "message.received"
    version: Literal[1] = 1
    message: Message


class MessageAssessed(EventBase):
    """The cascade settled on an assessment (scores, evidence offsets, the trail)."""

    type: Literal["message.assessed"] = "message.assessed"
    version: Literal[1] = 1
    channel_id: str
    user_id: str
    assessment: Assessment


class EscalationRequested(EventBase):
    """The fast tier was unsure: the message waits for the escalation stages (the LLM)."""

    type: Literal["escalation.requested"] = "escalation.requested"
    version: Literal[1] = 1
    message_id: str
    channel_id: str
    user_id: str
    stages: tuple[str, ...] = Field(description="the stages still to run, in order")
    scores: dict[Category, float] = Field(default_factory=dict)


class DecisionMade(EventBase):
    """What is done about a message. `provisional` says which kind: a provisional decision
    (the adjudicator has not answered by the deadline) is followed by a final one, which has
    `supersedes_provisional` set."""

    type: Literal["decision.made"] = "decision.made"
    version: Literal[1] = 1
    message_id: str
    channel_id: str
    user_id: str
    action: Action
    duration_s: int | None = None
    reason: str = ""
    policy: str = "default"
    decided_by: str = ""
    flagged: bool = False
    #: The policy did something (any action but allow), and on what basis.
    acted: bool = False
    policy_reason: str = "clean"
    policy_category: str | None = None
    #: The policy's message for the author (a crisis's resources), for connectors to send.
    notice: str | None = None
    provisional: bool = False
    supersedes_provisional: bool = False


class ReviewHeld(EventBase):
    """A message was held for a moderator."""

    type: Literal["review.held"] = "review.held"
    version: Literal[1] = 1
    review_id: str
    message_id: str
    channel_id: str
    user_id: str
    status: ReviewStatusName = "pending"
    action: Action = Action.HOLD
    duration_s: int | None = None
    resolved_by: str | None = None
    #: Queue order: higher first (a crisis hold comes before the rest).
    priority: int = 0


class ReviewResolved(EventBase):
    """A held message was resolved: approved or denied by a moderator, expired (its default
    action applied), or superseded by the adjudicator's final decision."""

    type: Literal["review.resolved"] = "review.resolved"
    version: Literal[1] = 1
    review_id: str
    message_id: str
    channel_id: str
    user_id: str
    status: ReviewStatusName
    action: Action
    duration_s: int | None = None
    resolved_by: str | None = None
    #: Queue order: higher first (a crisis hold comes before the rest).
    priority: int = 0


class ActionEnforced(EventBase):
    """A chat platform carried out (or refused) an action through its connector."""

    type: Literal["action.enforced"] = "action.enforced"
    version: Literal[1] = 1
    message_id: str | None = None
    channel_id: str
    user_id: str
    action: Action
    duration_s: int | None = None
    connector: str
    ok: bool = True
    error: str | None = Field(default=None, description="the failure's kind, never its text")


class RoleCallRequested(EventBase):
    """One role asks another to do a piece of work (`ROLE_TRANSPORT=redis`): the body of the
    HTTP call it would make to `path`, and where to answer. A work item of the callee's
    stream only: it holds message text and never reaches a subscriber of the other topics."""

    type: Literal["role.call"] = "role.call"
    version: Literal[1] = 1
    call_id: str = Field(min_length=1, max_length=64)
    path: str = Field(pattern=r"^/[a-z/-]{1,63}$")
    body: dict[str, Any]
    reply_to: str = Field(min_length=1, max_length=200, description="the caller's reply topic")
    expires_at: float = Field(description="Unix seconds after which the caller no longer waits")


class RoleCallAnswered(EventBase):
    """The answer to a `RoleCallRequested`: the HTTP status and JSON body the callee's route
    gave."""

    type: Literal["role.answer"] = "role.answer"
    version: Literal[1] = 1
    call_id: str = Field(min_length=1, max_length=64)
    status: int = Field(ge=100, le=599)
    body: Any = None


#: Every event, discriminated by `type`.
Event = Annotated[
    MessageReceived
    | MessageAssessed
    | EscalationRequested
    | DecisionMade
    | ReviewHeld
    | ReviewResolved
    | ActionEnforced
    | RoleCallRequested
    | RoleCallAnswered,
    Field(discriminator="type"),
]

EVENT_CLASSES: tuple[type[EventBase], ...] = (
    MessageReceived,
    MessageAssessed,
    EscalationRequested,
    DecisionMade,
    ReviewHeld,
    ReviewResolved,
    ActionEnforced,
    RoleCallRequested,
    RoleCallAnswered,
)


def type_of(cls: type[EventBase]) -> str:
    """The `type` name of an event class."""
    return str(cls.model_fields["type"].default)


def version_of(cls: type[EventBase]) -> int:
    """The version of the form an event class writes."""
    return int(cls.model_fields["version"].default)


#: The versions each event type's reader accepts (the current one; older forms would be
#: upgraded in `codec.py` before validation).
SUPPORTED_VERSIONS: dict[str, frozenset[int]] = {
    type_of(cls): frozenset({version_of(cls)}) for cls in EVENT_CLASSES
}
