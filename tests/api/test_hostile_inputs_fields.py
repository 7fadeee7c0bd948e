"""A table of hostile values driven through every documented body field and query parameter.

The fields come from the service's own /openapi.json: each POST/PUT/PATCH body field
(nested ones too: pricing tiers, usage rows, every branch of a union) and each query
parameter of each route, so a new route or field is covered without editing this file.
Every hostile value the published schema refuses must be refused by the server: a 422
problem+json whose `errors` name the field, nothing recorded (the log position does not
move); and another partner is still served afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema_rs
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN, Portal, make_portal
from tests.api.helpers import PROBLEM_JSON, log_position

# The hostile values, by what they try: control and invisible characters, size, integer
# bounds and look-alikes, missing values, times at the ends of the calendar, positions
# past a BIGINT, and the wrong JSON kinds.
HOSTILE: list[tuple[str, Any]] = [
    ("NUL", "\x00"),
    ("NUL inside", "Acme\x00Sales"),
    ("BEL", "Acme\x07"),
    ("ESC", "\x1b[31mAcme"),
    ("C1 control", "Acme\x9b"),
    ("right-to-left override", "Acme\u202eselaS"),
    ("isolate", "\u2066Acme\u2069"),
    ("zero-width only", "\u200b\u200c\u200d"),
    ("blank", "   "),
    ("empty", ""),
    ("10 kB", "x" * 10_240),
    ("2^63", 2**63),
    ("2^63 - 1", 2**63 - 1),
    ("10^19", 10**19),
    ("-1", -1),
    ("true", True),
    ('"5"', "5"),
    ("5.0", 5.0),
    ("0.5", 0.5),
    ("null", None),
    ("year 1", "0001-01-01T00:00:00+01:00"),
    ("year 9999", "9999-12-31T23:59:59-01:00"),
    ("naive time", "2026-01-01T00:00:00"),
    ("date only", "2026-01-01"),
    ("position 2^63", "position:9223372036854775808"),
    ("position 0", "position:0"),
    ("object", {"$gt": ""}),
    ("array", ["x"]),
]
# A query value is text: the same table, as a client would write each value in a URL.
HOSTILE_QUERY: list[tuple[str, str]] = [
    (label, value if isinstance(value, str) else
     {True: "true", None: "null"}.get(value, str(value)))
    for label, value in HOSTILE if not isinstance(value, dict | list)
]
WRITES = ("post", "put", "patch")
ANY_ID = "7d1f6a3e-0000-4000-8000-000000000000"


class Spec:
    """The OpenAPI document, with `$ref`s resolved on demand."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # Compiling a validator (with every component schema) cost more than the check;
        # the same few hundred schemas are asked about thousands of times.
        self.validators: dict[str, Any] = {}

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def accepts(self, schema: dict[str, Any], value: Any) -> bool:
        """Whether the published schema allows `value`."""
        if isinstance(value, float) and value.is_integer():
            # JSON Schema counts 5.0 as an integer; this API never does (an amount is never
            # a float), so ask about a float no schema could count as one.
            value += 0.5
        key = json.dumps(schema, sort_keys=True)
        validator = self.validators.get(key)
        if validator is None:
            whole = {**schema, "components": self.document.get("components", {})}
            validator = jsonschema_rs.Draft202012Validator(whole, validate_formats=True)
            self.validators[key] = validator
        return bool(validator.is_valid(value))

    def as_query_value(self, schema: dict[str, Any], text: str) -> Any:
        """The value a query string's text stands for: digits are a number where the
        parameter is an integer, and text everywhere else."""
        integer = any(b.get("type") == "integer" for b in self.branches(schema))
        return int(text) if integer and re.fullmatch(r"-?[0-9]+", text) else text

    def branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self.resolve(schema)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if not alternatives:
            return [schema]
        return [b for alt in alternatives for b in self.branches(alt) if b.get("type") != "null"]

    def example(self, schema: dict[str, Any]) -> Any:
        """A value the schema allows, built from its examples, enums and bounds."""
        schema = self.branches(schema)[0]
        for key in ("const", "default"):
            if schema.get(key) is not None:
                return schema[key]
        if schema.get("enum"):
            return schema["enum"][0]
        if schema.get("examples"):
            return schema["examples"][0]
        kind = schema.get("type")
        if kind == "object":
            required = set(schema.get("required", ()))
            return {name: self.example(sub) for name, sub in schema.get("properties", {}).items()
                    if name in required}
        if kind == "array":
            return [self.example(schema["items"])] * max(1, schema.get("minItems", 1))
        if kind == "integer":
            return min(max(1, schema.get("minimum", 1)), schema.get("maximum", 1))
        if kind == "boolean":
            return False
        if kind == "string":
            assert "pattern" not in schema, f"give the field an example: {schema}"
            return ANY_ID if schema.get("format") == "uuid" else "x"
        raise AssertionError(f"no example for {schema}")

    def fields(self, schema: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any],
                                                              Callable[[Any], Any]]]:
        """(path, schema, put) for the body itself and every field nested in it, through
        each branch of a union; `put(value)` is a whole body with `value` at the path."""
        yield (), schema, lambda value: value
        yield from self._nested(schema)

    def _nested(self, schema: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], dict[str, Any],
                                                                Callable[[Any], Any]]]:
        for branch in self.branches(schema):
            base = self.example(branch)
            if branch.get("type") == "object":
                for name, sub in branch.get("properties", {}).items():
                    yield (name,), sub, _putter(base, name)
                    for path, leaf, put in self._nested(sub):
                        yield (name, *path), leaf, _chain(base, name, put)
            elif branch.get("type") == "array":
                for path, leaf, put in self._nested(branch["items"]):
                    yield (0, *path), leaf, _chain([None], 0, put)


def _putter(base: Any, key: Any) -> Callable[[Any], Any]:
    def put(value: Any) -> Any:
        if isinstance(base, list):
            return [value]
        return {**base, key: value}
    return put


def _chain(base: Any, key: Any, inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    outer = _putter(base, key)
    return lambda value: outer(inner(value))


def _names(error: dict[str, Any], name: str) -> bool:
    return name in error.get("loc", []) or name in error.get("msg", "")


def _assert_refused(response: Any, where: str, field: str | None) -> None:
    assert response.status_code == 422, (where, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith(PROBLEM_JSON), where
    problem = response.json()
    assert {"type", "title", "status", "detail", "code"} <= problem.keys(), where
    assert problem["code"] == "validation_error", where
    if field is not None:
        assert any(_names(e, field) for e in problem.get("errors", [])), (where, problem)


class Caller:
    """Sends requests with the first key that gets past authentication for each route."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.keys = [portal.as_("admin"), portal.as_("support"), ADMIN]
        self.chosen: dict[tuple[str, str], dict[str, str]] = {}

    def url(self, path: str, parameters: list[dict[str, Any]], spec: Spec) -> str:
        for parameter in parameters:
            if parameter["in"] != "path":
                continue
            name = parameter["name"]
            kind = spec.resolve(parameter["schema"]).get("type")
            value = self.portal.partner_id if name == "pid" else "0" if kind == "integer" \
                else ANY_ID
            path = path.replace("{" + name + "}", value)
        return path

    def send(self, method: str, url: str, **kwargs: Any) -> Any:
        client: TestClient = self.portal.client
        key = self.chosen.get((method, url))
        if key is not None:
            return client.request(method, url, headers=key, **kwargs)
        for key in self.keys:  # a refused key answers 403 before the request is validated
            response = client.request(method, url, headers=key, **kwargs)
            if response.status_code != 403:
                self.chosen[(method, url)] = key
                return response
        return response


def _operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec.document["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_hostile_value_the_schema_refuses_is_refused_and_records_nothing(
    portal: Portal,
) -> None:
    spec = Spec(portal.client.get("/openapi.json").json())
    caller = Caller(portal)
    other = make_portal(portal.client, "Other Resale")
    fields_seen, parameters_seen, refusals = set(), set(), 0

    for method, path, operation in _operations(spec):
        url = caller.url(path, operation.get("parameters", []), spec)
        before = log_position(portal.client)
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if method in WRITES and body is not None:
            for field_path, schema, put in spec.fields(body["schema"]):
                named = next((p for p in reversed(field_path) if isinstance(p, str)), None)
                fields_seen.add((method, path, field_path))
                for label, value in HOSTILE:
                    if spec.accepts(schema, value):
                        continue
                    response = caller.send(method.upper(), url, json=put(value))
                    _assert_refused(response, f"{method} {path} {field_path} = {label}", named)
                    refusals += 1
        # Query parameters are validated together: each hostile value goes into every
        # parameter of the route at once, and each one the schema refuses must be named.
        queries = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        parameters_seen.update((method, path, p["name"]) for p in queries)
        for label, text in HOSTILE_QUERY if queries else ():
            refused = [p["name"] for p in queries
                       if not spec.accepts(p["schema"], spec.as_query_value(p["schema"], text))]
            if not refused:
                continue
            # A URL holds some 64 kB: long values go one parameter a request.
            groups = [refused] if len(text) * len(refused) < 30_000 else [[n] for n in refused]
            for group in groups:
                response = caller.send(method.upper(), url, params=dict.fromkeys(group, text))
                for name in group:
                    _assert_refused(response, f"{method} {path} ?{name}= {label}", name)
            refusals += len(refused)
        assert log_position(portal.client) == before, f"{method} {path} recorded an event"

    assert len(fields_seen) > 60 and len(parameters_seen) > 40, (fields_seen, parameters_seen)
    assert refusals > 1000
    for view in ("/lines/overview", "/billing/summary", "/analytics/messages"):
        assert other.get(view).status_code == 200, view
