"""Hostile input: schemathesis generates requests from the service's own /openapi.json,
data that fits the schema and data that does not, and runs every one of its checks on
each answer. No answer is a 5xx, every error is problem+json, and a refused request
records nothing."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
)

from tests.api.conftest import Portal

EXAMPLES_PER_OPERATION = 3
# The routes answer dicts and declare no response model, so the response-schema check
# would fail on every 200 for want of a schema: it is the one check left out.
EXCLUDED = (response_schema_conformance,)
# Moving the manual clock to a generated time decades ahead would run every daily job on
# the way there: a valid request, but minutes long. Fitting data moves it one day.
CLOCK_BODY = {"now": "2026-01-02T00:00:00Z"}
# The refusal the edge gives for data outside the schema, as opposed to a domain rule.
SCHEMA_REFUSAL = "the request is not valid"


def all_checks() -> list[Any]:
    load_all_checks()
    return [c for c in CHECKS.get_all() if not is_check_class(c) and c not in EXCLUDED]


def _whole_floats_as_ints(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer and schemathesis sends it as one in data that
    fits the schema; this API refuses it on purpose (an amount or a count is never a
    float: tests/api/test_hostile_inputs_fields.py asserts the refusal). Fitting data
    spells its integers as integers, then."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(v) for v in value]
    return value


def _domain_refusal(response: Any) -> bool:
    """A 422 from a rule no JSON Schema can state (a valid phone number, tiers in order,
    `until` after `since`, an item the invoice has): data that fits the schema may still
    be refused by the domain. A refusal by the edge's own validation is never excused."""
    if response.status_code != 422:
        return False
    detail = response.json().get("detail", "")
    return not detail.startswith(SCHEMA_REFUSAL)


class Runner:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.ledger = portal.client.app.state.cluster.home
        self.keys = [portal.as_("admin"), portal.as_("support"), portal.as_("platform")]
        self.key_of: dict[str, dict[str, str]] = {}
        self.checks = all_checks()

    def call(self, case: Any) -> Any:
        """Sends the case with the first key its route lets past authorisation (a refused
        key answers 403 before anything is read), remembered per operation."""
        label = case.operation.label
        keys = [self.key_of[label]] if label in self.key_of else self.keys
        for key in keys:
            headers = {**(case.headers or {}), **key}
            response = case.call(headers=headers)
            if response.status_code != 403:
                self.key_of[label] = key
                break
        return response, headers

    def check(self, case: Any) -> None:
        if case.meta is not None and case.meta.generation.mode.is_positive \
                and isinstance(case.body, dict | list):
            case.body = _whole_floats_as_ints(case.body)
        before = self.ledger.app.recorder.max_notification_id()

        response, headers = self.call(case)

        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        if response.status_code >= 400:
            content_type = response.headers.get("content-type") or [""]
            assert content_type[0].startswith("application/problem+json"), content_type
            assert {"type", "title", "status", "detail", "code"} <= set(response.json())
            if case.method != "GET":
                assert self.ledger.app.recorder.max_notification_id() == before, \
                    case.formatted_path
        try:
            case.validate_response(response, checks=self.checks, headers=headers)
        except FailureGroup as failures:
            excused = [f for f in failures.exceptions
                       if isinstance(f, RejectedPositiveData) and _domain_refusal(response)]
            if len(excused) < len(failures.exceptions):
                raise


def test_generated_requests_pass_every_schemathesis_check(portal: Portal) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", portal.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    runner = Runner(portal)
    assert len(operations) > 40
    assert positive_data_acceptance in runner.checks and len(runner.checks) >= 12
    nothing_to_negate: list[str] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fixed: dict[str, Any] = {}
            if mode.is_positive and operation.path == "/v1/admin/clock" \
                    and operation.method.upper() == "POST":
                fixed["body"] = CLOCK_BODY
            if "{pid}" in operation.path:
                fixed["path_parameters"] = {"pid": portal.partner_id}  # past the tenant check

            @given(case=operation.as_strategy(mode, **fixed))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                      database=None, suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                runner.check(case)

            try:
                run()
            except Unsatisfiable:
                # An operation with nothing to get wrong (no body, no query, the partner
                # fixed) has no data outside its schema: there is nothing to negate.
                assert not mode.is_positive, operation.label
                nothing_to_negate.append(operation.label)

    assert len(nothing_to_negate) < len(operations) / 2, nothing_to_negate
