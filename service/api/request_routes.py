"""The request workflow's routes, registered for a resource by one function.

Every request kind (a line's move and delete, a sub-account's merge and delete) answers on
four paths: `POST .../{kind}-request` (the partner asks), `.../approve` and `.../reject`
(support decides; a reject takes an optional `Reason`), `.../cancel` (the partner
withdraws). Request and cancel take the resource's write permission, approve and reject
`support.act`; each answers the resource as saved. The routes keep the names they had when
written one by one (`request_move`, `approve_merge`, ...), so /openapi.json's operation ids
and summaries stay as they were.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.answers import answering
from service.api.auth import Context, partner_access
from service.api.schemas import Reason
from service.commands import Command

_PARAMETER = inspect.Parameter.POSITIONAL_OR_KEYWORD
Endpoint = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class RequestingResource:
    """A resource that takes requests: how its routes name it, who may ask, how it answers."""

    id_param: str  # the path parameter naming it: "lid"
    id_field: str  # the commands' field for it: "line_id"
    write_permission: str  # asks and withdraws; support (`support.act`) decides
    answer: type[BaseModel]  # the response model
    run: Callable[[Context, Any], dict[str, Any]]  # executes a command, answers the resource


def add_request_routes(router: APIRouter, resource: RequestingResource, *, name: str,
                       path: str, request: type[Command[Any]], approve: type[Command[Any]],
                       reject: type[Command[Any]], cancel: type[Command[Any]],
                       body: type[BaseModel] | None = None) -> None:
    """The four routes of one request kind under `path` (`/{lid}/move-request`), named
    `request_{name}`, `approve_{name}`, `reject_{name}`, `cancel_{name}`. `body`: what the
    request names (a target), its fields those of the `request` command."""

    def run(command_type: type[Command[Any]], values: dict[str, Any],
            **fields: Any) -> dict[str, Any]:
        ctx: Context = values["ctx"]
        ids = {"partner_id": ctx.partner_id, resource.id_field: values[resource.id_param]}
        return resource.run(ctx, command_type(**ids, **fields))

    def asked(**values: Any) -> dict[str, Any]:
        return run(request, values, **(values["body"].model_dump() if body else {}))

    def decided(**values: Any) -> dict[str, Any]:
        return run(approve, values)

    def rejected(**values: Any) -> dict[str, Any]:
        reason = values["body"].reason if values["body"] else None
        return run(reject, values, reason=reason)

    def withdrawn(**values: Any) -> dict[str, Any]:
        return run(cancel, values)

    asks = inspect.Parameter("body", _PARAMETER, annotation=body) if body else None
    reason = inspect.Parameter("body", _PARAMETER, annotation=Reason | None, default=None)
    routes: list[tuple[str, str, Endpoint, str, inspect.Parameter | None]] = [
        ("request", "", asked, resource.write_permission, asks),
        ("approve", "/approve", decided, "support.act", None),
        ("reject", "/reject", rejected, "support.act", reason),
        ("cancel", "/cancel", withdrawn, resource.write_permission, None),
    ]
    for step, suffix, endpoint, permission, body_parameter in routes:
        # FastAPI reads the parameters from the signature: the resource's own path
        # parameter name (`lid`, `sid`), the body, and the caller's access.
        parameters = [inspect.Parameter(resource.id_param, _PARAMETER, annotation=UUID)]
        if body_parameter is not None:
            parameters.append(body_parameter)
        parameters.append(inspect.Parameter("ctx", _PARAMETER, annotation=Context,
                                            default=partner_access(permission)))
        signature = inspect.Signature(parameters, return_annotation=dict[str, Any])
        endpoint.__signature__ = signature  # type: ignore[attr-defined]  # what FastAPI reads
        router.add_api_route(path + suffix, endpoint, methods=["POST"], name=f"{step}_{name}",
                             **answering(resource.answer))
