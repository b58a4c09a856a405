"""The domain's exceptions. Flagged content is a result, never an exception; these are for
mistakes (the caller's or the configuration's) and for parts that are unavailable. The HTTP
adapter maps each to a status code in one place."""

from __future__ import annotations


class ChatguardError(Exception):
    """Base of every chatguard error."""


class InvalidInputError(ChatguardError):
    """The caller sent something that cannot be moderated as it is (4xx)."""


class InputTooLargeError(InvalidInputError):
    """A message or batch is larger than the configured limit (413)."""


class ConflictError(ChatguardError):
    """A message id was reused for a different message (409)."""


class NotFoundError(ChatguardError):
    """The requested object does not exist (404)."""


class ConfigurationError(ChatguardError):
    """The configuration is invalid; the message names the field."""


class UnknownStageError(ConfigurationError):
    """A stage name that no registered stage has."""


class StageUnavailableError(ChatguardError):
    """A stage cannot answer now (model missing, endpoint down, circuit open)."""


class DeadlinePassedError(StageUnavailableError):
    """The caller's deadline passed before the work could be done: nothing was written."""


class StoreUnavailableError(StageUnavailableError):
    """The database cannot be reached or failed (503 with Retry-After); moderation answers
    without it where it can."""

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class SpoolFullError(StoreUnavailableError):
    """The database is away and the local buffer of decisions waiting for it is full (503
    with Retry-After): the caller should try again later."""


class InvalidPolicyError(InvalidInputError):
    """A channel policy document is invalid; the message names the field (422)."""


class ReviewStateError(ConflictError):
    """A held message was already resolved, by a moderator or by its timeout (409)."""


class WebhookVerificationError(ChatguardError):
    """A webhook request's signature or timestamp does not verify, or it is a replay."""


class AuthenticationError(ChatguardError):
    """No credentials, or credentials that do not verify (401)."""


class PermissionDeniedError(ChatguardError):
    """The caller is known but may not do this (403)."""


class RateLimitedError(ChatguardError):
    """Too many requests from one key, client or chat user (429); retry after `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class EventFormatError(InvalidInputError):
    """An event's JSON form is not one this version reads (malformed, or fields invalid)."""


class UnknownEventTypeError(EventFormatError):
    """An event whose `type` no event class has."""


class UnsupportedEventVersionError(EventFormatError):
    """An event of a known type in a `version` this reader does not support."""


class BackpressureError(ChatguardError):
    """A work stream holds more entries than its bound: its consumers are behind, so new work
    is refused rather than queued without limit (429); retry after `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class EventBusUnavailableError(StageUnavailableError):
    """The event bus's transport (Redis) cannot be reached to queue work (503)."""
