"""Generated requests from the OpenAPI document against a real server: whatever a client
sends, the service answers without a 5xx, with a documented status and shape."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ADMIN, Running
from tests.servers import DIALECTS, on_database

# The admin reaches every route; an anonymous client mostly meets the refusals (401, and
# 404 for what it may not see), which must be documented and well-formed too.
CLIENTS = {"admin": (ADMIN, 40, 1000), "anonymous": ({}, 15, 350)}
# The admin's generated strings reach every column (lengths, encodings, edge spaces, NUL)
# on every database; the anonymous client's are refused before any write: SQLite tells.
DATABASES = {"admin": DIALECTS, "anonymous": ("sqlite",)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("server", "client"),
    [
        on_database(dialect, client, id=f"{dialect}-{client}")
        for client in CLIENTS
        for dialect in DATABASES[client]
    ],
    indirect=["server"],
)
def test_generated_requests_never_fail_the_server(running: Running, client: str) -> None:
    headers, examples, at_least = CLIENTS[client]
    schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    cases: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Case) -> None:
            cases.append(case.operation.label)
            case.call_and_validate(
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        call()
    assert len(set(cases)) >= 25  # every operation was exercised
    assert len(cases) >= at_least
