"""Request and response schemas of the HTTP API (kept apart from the database tables)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chatguard.api.types import Identifier, MessageText, ModelName, Timestamp
from chatguard.domain import Message, Role

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
    reason: str
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    decided_by: str
    reasons: list[str]
    processing_time_ms: float


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
