"""Property-based check of the HTTP API against its own /openapi.json.

Schemathesis generates requests from the spec (valid and invalid bodies, odd
path parameters) for every operation, and checks that nothing answers 500,
that every response matches its documented status, schema and content type,
and that errors are the documented problem details. Schema-valid bodies may
still be refused (a course that does not parse is a 422), so the check that
every schema-valid request succeeds is left out.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from wskit import Server


@pytest.mark.slow
def test_api_matches_its_spec(server: Server) -> None:
    """Generated requests never get a 500 or an undocumented response."""
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    tested = []
    for result in schema.exclude(path_regex="^/ws/").get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
        tested.append(operation.label)
    assert "POST /api/races" in tested
    assert len(tested) >= 11
