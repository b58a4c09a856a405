"""Request schemas of the decision handler's API (responses are the records as plain data)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from chatguard.api import types
from chatguard.api.schemas import ModerateRequest
from chatguard.decisions.policy import ActionRule
from chatguard.domain import Action, Assessment, Route, Span
from chatguard.errors import InvalidInputError
from chatguard.taxonomy import Category, UnknownCategoryError, parse_category

Reason = types.Reason


def _category(name: str) -> Category:
    try:
        return parse_category(name)
    except UnknownCategoryError as exc:
        raise ValueError(str(exc)) from None


class SpanIn(BaseModel):
    start: types.Count
    end: types.Count
    category: types.CategoryName
    label: types.Label = ""
    score: types.Score = 1.0

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        return _category(value).value


class AssessmentIn(BaseModel):
    """An assessment made elsewhere (the filter role) for the decision handler to act on."""

    model_config = ConfigDict(extra="forbid")

    scores: dict[types.CategoryName, types.Score] = Field(max_length=64)
    route: Route
    decided_by: types.Name = "external"
    spans: list[SpanIn] = Field(default_factory=list, max_length=256)
    pending: list[types.Name] = Field(
        default_factory=list, max_length=8, description="stages still to judge (e.g. the LLM)"
    )
    llm_unavailable: StrictBool = Field(
        default=False, description="the adjudicator could not answer"
    )
    review: StrictBool = Field(default=False, description="a stage asked for human review")

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
    final: StrictBool = Field(
        default=False,
        description="the decision replaces a provisional one for this message_id (its review "
        "hold is superseded, its audit entry is the final one)",
    )


class DecideBatchRequest(BaseModel):
    """Many `POST /decide` bodies in one call; each keeps its own `final`."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[DecideRequest] = Field(min_length=1)
    deadline: float | None = Field(
        default=None,
        gt=0,
        description="Unix seconds after which the caller no longer waits: past it nothing is "
        "written and the call is answered 503",
    )


class PolicyPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: types.Document = Field(
        description="The override: a preset name and the fields that differ, e.g. "
        '{"preset": "gaming", "fail_mode": "hold"}'
    )
    reason: Reason = ""


class PolicyCheck(BaseModel):
    policy: types.Document


class ReviewDecision(BaseModel):
    """The moderator resolving the item is the API key's owner, not a field of the body."""

    model_config = ConfigDict(extra="forbid")

    reason: Reason = ""
    action: Action | None = Field(default=None, description="deny only: delete, timeout or ban")
    duration_s: types.Seconds | None = None

    def rule(self) -> ActionRule | None:
        if self.action is None:
            return None
        try:
            return ActionRule(action=self.action, duration_s=self.duration_s)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise InvalidInputError(f"invalid action: {problem}") from None
