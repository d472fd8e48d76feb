"""Declared routes: each says who may call it, how it is rate limited and what it takes and
returns. The declaration drives the guard that runs before the view and the OpenAPI document.

Order in the guard: identify the caller (API key, else source IP), take a rate-limit token (so
failed logins are limited too), authorize the role, validate the query and the body, run the view.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalice import Blueprint, Response

from chalicelib import deps
from chalicelib.api.errors import from_exception, is_dependency_error
from chalicelib.api.http import read_json
from chalicelib.errors import ConductorError, DependencyUnavailable, RateLimited, ValidationFailed
from chalicelib.services.auth import authorize, key_from_headers

log = logging.getLogger("conductor.api")
CLASS_BY_METHOD = {
    "GET": "read",
    "HEAD": "read",
    "POST": "write",
    "PUT": "write",
    "PATCH": "write",
    "DELETE": "write",
}


@dataclass(frozen=True)
class RouteSpec:
    """One operation of the API, relative to its version prefix (``/events/{event_id}``)."""

    method: str
    path: str
    operation_id: str
    summary: str
    role: str | None  # None: public
    rate_class: str | None
    query: str | None  # model names in chalicelib.api.schemas, resolved on first use
    body: str | None
    response: str | None
    status: int
    versions: tuple[str, ...]
    errors: tuple[int, ...]
    #: other success statuses with the same body (200 for an idempotent repeat of a 201)
    also: tuple[int, ...] = ()
    #: the view takes ``principal`` (the caller's key), e.g. to say who is signed in
    wants_principal: bool = False
    #: what the operation does, for the reference docs: the view's docstring
    description: str = ""


ROUTES: list[RouteSpec] = []


@functools.cache
def model(name: str) -> Any:
    return getattr(importlib.import_module("chalicelib.api.schemas"), name)


def _problems(exc: Any) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(p) for p in error["loc"]) or "body",
            "problem": error["msg"].removeprefix("Value error, "),
        }  # our validators' words
        for error in exc.errors(include_url=False)
    ]


def validate(model_name: str, data: Any, where: str) -> Any:
    from pydantic import ValidationError  # noqa: PLC0415 - see schemas.py on import cost

    try:
        return model(model_name).model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(f"The request {where} is invalid.", _problems(exc)) from exc


def query_of(request: Any) -> dict[str, str]:
    """The query parameters, each given once: ``?limit=1&limit=200`` is ambiguous, so a 400."""
    params = request.query_params or {}
    repeated = [name for name in params if len(getattr(params, "getlist", lambda _: [0])(name)) > 1]
    if repeated:
        raise ValidationFailed(
            "A query parameter is given more than once.",
            [{"field": name, "problem": "must be given once"} for name in sorted(repeated)],
        )
    return dict(params)


def source_ip(request: Any) -> str:
    identity = (getattr(request, "context", None) or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


class ApiBlueprint(Blueprint):
    """A Blueprint of declared routes; ``v1`` holds those also served, deprecated, under /v1."""

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self.v1 = Blueprint(import_name)

    def operation(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        role: str | None,
        rate_class: str | None = "default",
        query: str | None = None,
        body: str | None = None,
        response: str | None = None,
        status: int = 200,
        v1: bool = False,
        errors: tuple[int, ...] = (),
        also: tuple[int, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            spec = RouteSpec(
                method=method,
                path=path,
                operation_id=view.__name__,
                summary=summary,
                role=role,
                rate_class=CLASS_BY_METHOD.get(method) if rate_class == "default" else rate_class,
                query=query,
                body=body,
                response=response,
                status=status,
                versions=("v2", "v1") if v1 else ("v2",),
                errors=errors,
                also=also,
                wants_principal="principal" in inspect.signature(view).parameters,
                description=" ".join((inspect.getdoc(view) or "").split()),
            )
            ROUTES.append(spec)
            guarded = self._guard(spec, view)
            self.route(path, methods=[method])(guarded)
            if v1:
                self.v1.route(path, methods=[method])(guarded)
            return view

        return decorator

    def _guard(self, spec: RouteSpec, view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(**path_params: str) -> Response:
            request = self.current_request
            headers: dict[str, str] = {}
            try:
                response = self._admit_and_run(spec, view, request, path_params, headers)
            except ConductorError as exc:
                response = from_exception(exc)
            except Exception as exc:
                if not is_dependency_error(exc):
                    raise
                log.warning("%s %s: a dependency failed", spec.method, spec.path, exc_info=True)
                response = from_exception(
                    DependencyUnavailable("A dependency (DynamoDB or SQS) failed; retry in a moment.")
                )
            response.headers.update(headers)
            return response

        return guarded

    @staticmethod
    def _admit_and_run(
        spec: RouteSpec,
        view: Callable[..., Any],
        request: Any,
        path_params: dict[str, str],
        headers: dict[str, str],
    ) -> Response:
        principal = None
        if spec.role is not None:
            principal = deps.authenticator().identify(key_from_headers(request.headers))
        if spec.rate_class is not None:
            caller = f"key:{principal.key_id}" if principal else f"ip:{source_ip(request)}"
            overrides = principal.rate_limits if principal else None
            policy, decision = deps.rate_limiter().check(
                caller, spec.rate_class, overrides, role=principal.role if principal else "ip"
            )
            headers["RateLimit-Policy"] = policy.header()
            headers["RateLimit"] = decision.header(policy)
            if not decision.allowed:
                headers["Retry-After"] = str(decision.retry_after)
                raise RateLimited(
                    f"Rate limit for {spec.rate_class} requests reached; retry in {decision.retry_after} s."
                )
        if spec.role is not None:
            authorize(principal, spec.role)
        kwargs: dict[str, Any] = dict(path_params)
        if spec.wants_principal:
            kwargs["principal"] = principal
        if spec.query is not None:
            kwargs["query"] = validate(spec.query, query_of(request), "query")
        if spec.body is not None:
            kwargs["body"] = validate(spec.body, read_json(request), "body")
        result = view(**kwargs)
        if isinstance(result, Response):
            return result
        return Response(body=result, status_code=spec.status)
