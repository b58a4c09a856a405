"""Typed, versioned events and the bus that carries them (framework-free core).

`model` defines the events, `codec` their one JSON form, `stages` the JSON forms of stage
inputs and results, `legacy` the client form the WebSocket and webhooks send, `bus` the
interface, `memory` and `redis_streams` its two implementations, `worker` a consumer's loop,
`factory` the bus EVENT_BUS selects, `schema` the published JSON Schema
(docs/events.schema.json). See docs/events.md.
"""

from chatguard.events.bus import (
    ACTIONS_TOPIC,
    ASSESSMENTS_TOPIC,
    DECISIONS_TOPIC,
    ESCALATIONS_TOPIC,
    INGEST_STREAM,
    BusCounters,
    Consumed,
    DeadLetter,
    EventBus,
    Handler,
)
from chatguard.events.codec import decode, encode
from chatguard.events.memory import InProcessEventBus
from chatguard.events.model import (
    ActionEnforced,
    DecisionMade,
    EscalationRequested,
    Event,
    EventBase,
    MessageAssessed,
    MessageReceived,
    ReviewHeld,
    ReviewResolved,
    RoleCallAnswered,
    RoleCallRequested,
)

__all__ = [
    "ACTIONS_TOPIC",
    "ASSESSMENTS_TOPIC",
    "DECISIONS_TOPIC",
    "ESCALATIONS_TOPIC",
    "INGEST_STREAM",
    "ActionEnforced",
    "BusCounters",
    "Consumed",
    "DeadLetter",
    "DecisionMade",
    "EscalationRequested",
    "Event",
    "EventBase",
    "EventBus",
    "Handler",
    "InProcessEventBus",
    "MessageAssessed",
    "MessageReceived",
    "ReviewHeld",
    "ReviewResolved",
    "RoleCallAnswered",
    "RoleCallRequested",
    "decode",
    "encode",
]
