"""The HTTP transport: base URL, API key, the error shape, and retries on 429/503."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

__all__ = ["ConductorError", "Transport"]


class ConductorError(Exception):
    """Every error answer of the API: ``{"error": {"code", "message", "details"}}``.

    ``status`` is the HTTP status (0 when no answer came), ``code`` the API's stable identifier
    (``validation_error``, ``not_found``, ``rate_limited``...), ``details`` the field problems.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: requests.Response) -> ConductorError:
        request_id = response.headers.get("X-Request-Id")
        try:
            error = response.json()["error"]
            return cls(
                response.status_code,
                str(error.get("code", "error")),
                str(error.get("message", "")),
                error.get("details") or [],
                request_id,
            )
        except (ValueError, KeyError, TypeError):
            return cls(
                response.status_code, "http_error", response.text[:200] or response.reason, None, request_id
            )


#: Statuses worth asking again: rate limited, or a dependency (DynamoDB, SQS) briefly down.
RETRY_STATUSES = frozenset({429, 503})


class Transport:
    """One ``requests.Session`` per client; JSON in, JSON out.

    A 429 or 503 is asked again after its ``Retry-After`` (or a short backoff with jitter when
    the answer has none), at most ``max_retries`` times and never past ``max_wait`` seconds of
    waiting in all; then the error is raised.
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        max_wait: float = 60,
        page_size: int = 100,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = url or os.environ.get("CONDUCTOR_URL") or "http://127.0.0.1:8000"
        key = key or os.environ.get("CONDUCTOR_KEY")
        if not key:
            raise ConductorError(0, "unauthorized", "No API key: pass key= or set CONDUCTOR_KEY (cnd_...).")
        self.base = url.rstrip("/").removesuffix("/v2")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.page_size = page_size
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {key}", "User-Agent": "conductor-client/0.1"})
        self.session.trust_env = False  # no proxy from the environment between you and your API

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """``path`` is relative to ``/v2`` (``/schedules``); returns the decoded JSON or None."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        data = None if json_body is None else json.dumps(json_body)
        send_headers = {"Content-Type": "application/json"} if data is not None else {}
        send_headers.update(headers or {})
        waited = 0.0
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.request(
                    method,
                    f"{self.base}/v2{path}",
                    params=query,
                    data=data,
                    headers=send_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise ConductorError(0, "connection_error", f"{method} {self.base}/v2{path}: {exc}") from exc
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = _retry_after(response, attempt)
                if waited + delay <= self.max_wait:
                    waited += delay
                    self.sleep(delay)
                    continue
            if response.status_code >= 400:
                raise ConductorError.from_response(response)
            if response.status_code == 204 or not response.content:
                return None
            return response.json()
        raise AssertionError("unreachable")  # the loop returns or raises

    def pages(
        self, path: str, params: dict[str, Any] | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following ``next_cursor`` page by page (lazily)."""
        params = dict(params or {})
        page_size = min(limit, self.page_size) if limit else self.page_size
        seen = 0
        cursor: str | None = None
        while True:
            page = self.request("GET", path, params={**params, "limit": page_size, "cursor": cursor})
            for item in page["items"]:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(response: requests.Response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(header))
    except ValueError:
        return min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311
