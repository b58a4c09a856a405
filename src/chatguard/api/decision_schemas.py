"""Request schemas of the decision handler's API (responses are the records as plain data)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from chatguard.api.schemas import ModerateRequest
from chatguard.decisions.policy import ActionRule
from chatguard.domain import Action, Assessment, Route, Span
from chatguard.errors import InvalidInputError
from chatguard.taxonomy import Category, UnknownCategoryError, parse_category

Reason = Annotated[StrictStr, Field(max_length=1000)]


def _category(name: str) -> Category:
    try:
        return parse_category(name)
    except UnknownCategoryError as exc:
        raise ValueError(str(exc)) from None


class SpanIn(BaseModel):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    category: str
    label: str = ""
    score: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        return _category(value).value


class AssessmentIn(BaseModel):
    """An assessment made elsewhere (the filter role) for the decision handler to act on."""

    model_config = ConfigDict(extra="forbid")

    scores: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(max_length=64)
    route: Route
    decided_by: Annotated[StrictStr, Field(min_length=1, max_length=64)] = "external"
    spans: list[SpanIn] = Field(default_factory=list, max_length=256)
    pending: list[Annotated[StrictStr, Field(max_length=64)]] = Field(
        default_factory=list, max_length=8, description="stages still to judge (e.g. the LLM)"
    )
    llm_unavailable: bool = Field(default=False, description="the adjudicator could not answer")
    review: bool = Field(default=False, description="a stage asked for human review")

    @field_validator("scores")
    @classmethod
    def _categories(cls, value: dict[str, float]) -> dict[str, float]:
        return {_category(k).value: v for k, v in value.items()}

    def to_assessment(self, message_id: str) -> Assessment:
        scores = {Category(k): v for k, v in self.scores.items()}
        return Assessment(
            message_id=message_id,
            scores=scores,
            route=Route.UNCERTAIN if self.pending else self.route,
            decided_by=self.decided_by,
            spans=tuple(
                Span(s.start, s.end, Category(s.category), s.label, s.score) for s in self.spans
            ),
            escalated=bool(self.pending) or self.llm_unavailable,
            pending=tuple(self.pending),
            llm_unavailable=self.llm_unavailable,
            review=self.review,
        )


class DecideRequest(ModerateRequest):
    assessment: AssessmentIn


class PolicyPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: dict[str, Any] = Field(
        description="The override: a preset name and the fields that differ, e.g. "
        '{"preset": "gaming", "fail_mode": "hold"}'
    )
    reason: Reason = ""


class PolicyCheck(BaseModel):
    policy: dict[str, Any]


class ReviewDecision(BaseModel):
    """The moderator resolving the item is the API key's owner, not a field of the body."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = ""
    action: Action | None = Field(default=None, description="deny only: delete, timeout or ban")
    duration_s: int | None = Field(default=None, ge=1)

    def rule(self) -> ActionRule | None:
        if self.action is None:
            return None
        try:
            return ActionRule(action=self.action, duration_s=self.duration_s)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidInputError(f"invalid action: {problem}") from None
