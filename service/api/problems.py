"""problem+json errors: one table from domain exceptions to HTTP, and the handlers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aggregates.errors import DomainError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Content too large",
    415: "Unsupported media type", 422: "Unprocessable content",
    500: "Internal server error", 503: "Service unavailable",
}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 422: "validation_error",
          500: "internal_error", 503: "unavailable"}


def problem(status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://partner-ledger.dev/problems/{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
# Declared on every operation, so the OpenAPI document says what an error looks like (and
# replaces FastAPI's own 422 schema, which is not what this API answers).
RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is not valid: `errors` names each as `{loc, msg}`; "
                         "nothing is recorded.",
          "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}},
    "default": {"description": "An error, with a stable `code` (see API.md).",
                "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}},
}


class ApiProblem(Exception):
    """An HTTP-level refusal (authentication, permissions, paging) raised at the edge."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _message(error: Any) -> str:
    # pydantic prefixes the message of a validator's ValueError; the field says enough.
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": _message(e)} for e in errors]


def _summary(errors: list[Any]) -> str:
    """The detail line: the first few fields at fault and why."""
    named = [f"{'.'.join(map(str, e.get('loc', ())))}: {_message(e)}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "the request is not valid: " + "; ".join(named) + more


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        field = getattr(exc, "field", None)
        if field is not None:  # the rule named the one field at fault, as a 422 of the edge does
            return problem(exc.status, exc.code, exc.detail,
                           errors=[{"loc": ["body", field], "msg": exc.detail}])
        return problem(exc.status, exc.code, exc.detail)

    @app.exception_handler(ApiProblem)
    async def _api(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        # A malformed id in the path names nothing that exists: 404, as for an unknown id.
        if errors and all(e.get("loc", ("",))[0] == "path" for e in errors):
            return problem(404, "not_found", "no such resource")
        return problem(422, "validation_error", _summary(errors),
                       errors=_validation_detail(errors))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 names the allowed methods in `Allow`.
        return problem(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail),
                       headers=dict(exc.headers) if exc.headers else None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal_error", "an unexpected error occurred; it has been logged")
