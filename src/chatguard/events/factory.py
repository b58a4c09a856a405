"""The event bus a process uses, chosen by `EVENT_BUS` (memory | redis)."""

from __future__ import annotations

from chatguard.config import Settings
from chatguard.errors import ConfigurationError
from chatguard.events.bus import EventBus
from chatguard.events.memory import InProcessEventBus
from chatguard.events.redis_streams import RedisStreamsEventBus


def build_event_bus(settings: Settings) -> EventBus:
    """`memory`: in this process (the embedded server). `redis`: Redis Streams at REDIS_URL,
    named with EVENT_STREAM_PREFIX and bounded by EVENT_STREAM_MAXLEN."""
    if settings.event_bus == "memory":
        return InProcessEventBus(maxlen=settings.event_stream_maxlen)
    if settings.redis_url is None:
        raise ConfigurationError("EVENT_BUS=redis needs REDIS_URL")
    return RedisStreamsEventBus.from_url(
        settings.redis_url,
        prefix=settings.event_stream_prefix,
        maxlen=settings.event_stream_maxlen,
    )
