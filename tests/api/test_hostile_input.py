"""Hostile input: schemathesis generates requests from the service's own /openapi.json.
No answer is a 5xx, every error is problem+json, and a refused request records nothing."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import Portal

EXAMPLES_PER_OPERATION = 4


def _check(case: Any, portal: Portal) -> None:
    if "pid" in (case.path_parameters or {}):
        case.path_parameters["pid"] = portal.partner_id  # reach past the tenant check
    ledger = portal.client.app.state.cluster.home  # type: ignore[attr-defined]
    before = ledger.app.recorder.max_notification_id()
    headers = {**(case.headers or {}), **portal.as_("admin")}
    if case.path.startswith("/v1/admin") or case.path in ("/v1/partners", "/v1/api-keys"):
        headers.update(portal.as_("platform"))

    response = case.call(headers=headers)

    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        content_type = response.headers.get("content-type") or [""]
        assert content_type[0].startswith("application/problem+json"), content_type
        assert {"type", "title", "status", "detail", "code"} <= set(response.json())
        if case.method != "GET":
            assert ledger.app.recorder.max_notification_id() == before, case.formatted_path


def test_no_generated_request_gets_a_server_error(portal: Portal) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", portal.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            _check(case, portal)

        run()

