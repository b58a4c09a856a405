"""Property-based tests of the whole HTTP API with Schemathesis, on SQLite and PostgreSQL.

Schemathesis reads the app's OpenAPI schema and sends requests made to measure: valid ones and
ones that break a documented rule. Each response must not be a 5xx, must have a documented
status code and content type, and its body must match the documented schema. The seed is fixed
and the examples per operation bounded, so a run is repeatable and stays under a minute per
database.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from chatguard.api import create_app
from tests.api.conftest import app_settings
from tests.conftest import LiveServer

SEED = 20_261_202
MAX_EXAMPLES = 15
#: A valid request may still be refused for what a JSON schema cannot say: a message over
#: MAX_MESSAGE_CHARS (413), an id that is not there (404) or taken (409), a deadline that has
#: passed (408, a decision batch's). A policy override must
#: resolve against the presets and a denial must remove the message (422): those two operations
#: are not held to accepting every schema-valid body.
SEMANTIC_422 = {"positive_data_acceptance": {"enabled": False}}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", 401, 403, 404, 408, 409, 413, 429]
            }
        },
        "operations": [
            {"include-path": "/policies/validate", "checks": SEMANTIC_422},
            {
                "include-path": "/policies/{channel_id}",
                "include-method": "PUT",
                "checks": SEMANTIC_422,
            },
            {"include-path": "/review/{item_id}/deny", "checks": SEMANTIC_422},
        ],
    }
)


def _openapi() -> dict[str, Any]:
    # The schema is built from the routes alone; no service starts and no database is opened.
    return create_app(app_settings("sqlite+aiosqlite:///:memory:")).openapi()


schema = schemathesis.openapi.from_dict(_openapi(), config=CONFIG)
# Schemathesis's own strategies draw from `random`, which Hypothesis warns about.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, api_server: LiveServer, api_headers: dict[str, str]
) -> None:
    case.call_and_validate(base_url=api_server.url, headers=api_headers)
