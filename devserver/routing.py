"""API Gateway's greedy path variables (``/{proxy+}``) for Chalice's local route matching.

Chalice's local matcher (used by ``chalice local`` and ``chalice.test.Client``) only matches paths
with as many segments as the route, so ``/{proxy+}`` would catch ``/x`` but not ``/x/y`` as API
Gateway does. This matcher tries the concrete routes first, as API Gateway does, then the greedy
ones; the local runtime and the tests install it so they answer unknown paths as AWS would.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import chalice.local
from chalice.local import MatchResult, RouteMatcher


class GreedyRouteMatcher(RouteMatcher):
    def __init__(self, route_urls: list[str]) -> None:
        greedy = [r for r in route_urls if r.endswith("+}")]
        super().__init__([r for r in route_urls if r not in greedy])
        self.greedy_urls = sorted(greedy, key=len, reverse=True)  # longest prefix first

    def match_route(self, url: str) -> MatchResult:
        try:
            return super().match_route(url)
        except ValueError:
            pass
        parsed = urlparse(url)
        query_params = parse_qs(parsed.query, keep_blank_values=True)
        path = parsed.path
        for route_url in self.greedy_urls:
            prefix, _, variable = route_url.rpartition("/{")
            if path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
                captured = {variable[:-1]: path[len(prefix) + 1 :]}
                return MatchResult(route_url, captured, query_params)
        raise ValueError(f"No matching route found for: {url}")


def install() -> None:
    """Make Chalice's local gateway use the greedy matcher (idempotent)."""
    chalice.local.RouteMatcher = GreedyRouteMatcher  # type: ignore[misc]
