"""Request and response schemas of the HTTP API (kept apart from the database tables)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatguard.api.types import Identifier, MessageText, ModelName, Timestamp
from chatguard.domain import Action, Message, Role

Id = Identifier


class ModerateRequest(BaseModel):
    """The body of `POST /moderate` (the original design's: message, user_id, channel_id)."""

    model_config = ConfigDict(extra="ignore")

    message: MessageText = Field(description="The chat message text.")
    user_id: Id
    channel_id: Id
    message_id: Id | None = Field(
        default=None, description="Your id for the message; resending it returns the same answer."
    )
    roles: list[Role] = Field(default_factory=list, max_length=8)
    timestamp: Timestamp | None = None

    def to_message(self) -> Message:
        extra: dict[str, Any] = {}
        if self.message_id is not None:
            extra["id"] = self.message_id
        if self.timestamp is not None:
            extra["timestamp"] = self.timestamp
        return Message(
            text=self.message,
            user_id=self.user_id,
            channel_id=self.channel_id,
            roles=frozenset(self.roles),
            **extra,
        )


class ModerateBatchRequest(BaseModel):
    messages: list[ModerateRequest] = Field(min_length=1)


class ModerateResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    message_id: str
    action: str
    approved: bool
    acted: bool = Field(
        description="The policy did something to the message: flagged, held or removed it "
        "(any action but allow), whichever category made it, spam, PII and prompt injection "
        "included."
    )
    policy_reason: str = Field(
        default="",
        description="Why, in a word: clean, severity, blocked_term, flood, crisis, uncertain, "
        "fail_mode, review_requested or exempt_role (empty in answers stored by releases "
        "that did not record it).",
    )
    policy_category: str | None = Field(
        default=None, description="The category whose severity set the action, if one did."
    )
    notice: str | None = Field(
        default=None,
        description="A message for the author alone (the channel's crisis resources), which "
        "a connector sends privately.",
    )
    reason: str
    flagged: bool = Field(
        description="OpenAI's meaning: one of OpenAI's 13 categories reached its threshold. "
        "It does not follow the action; see `acted`."
    )
    categories: dict[str, bool]
    category_scores: dict[str, float]
    decided_by: str
    reasons: list[str]
    processing_time_ms: float

    @model_validator(mode="before")
    @classmethod
    def _acted(cls, value: Any) -> Any:
        # Answers stored before `acted` existed are replayed as stored: derive it from the action.
        if isinstance(value, dict) and "acted" not in value and "action" in value:
            return {**value, "acted": value["action"] != Action.ALLOW.value}
        return value


class ModerateBatchResponse(BaseModel):
    results: list[ModerateResponse]


class TextInput(BaseModel):
    type: Literal["text"]
    text: MessageText


class OpenAIModerationRequest(BaseModel):
    """OpenAI's `POST /v1/moderations` body."""

    input: (
        MessageText
        | Annotated[list[MessageText], Field(min_length=1)]
        | Annotated[list[TextInput], Field(min_length=1)]
    )
    model: ModelName | None = None


class ErrorBody(BaseModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
