"""What one part of Conductor does when something happens in another: every cross-service
reaction, in one table a reader sees at once (cosmicpython's ``EVENT_HANDLERS`` in miniature).

Services do not call each other for these: each takes a hook (``on_finished``, ``on_closed``...)
that ``deps`` points at :func:`react`, and the table below says who reacts. A reaction runs in the
same invocation, after the triggering write; like every handler here it must be idempotent, since
the write that triggers it may be retried (SQS delivers at least once).

A reaction reaches the services through ``services``, the composition root ``deps`` hands to
:func:`hook` (so this module imports no service and ``deps`` is not imported back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain.origins import origin_of

Reaction = Callable[..., None]


def _settle_schedule_run(services: Any, job: Any, succeeded: bool) -> None:
    """A retry job a failed schedule run handed over ended: the run's history says how, and the
    schedule's failure streak moves (which may pause it)."""
    origin = origin_of(job)
    if origin.get("type") == "schedule_run":
        services.runs().retry_finished(str(origin["execution_id"]), succeeded)


def _resolve_job_of_dead_letter(services: Any, job_id: str, note: str | None) -> None:
    services.retries().dead_letter_resolved(job_id, note)


def _release_held_attempts(services: Any, service: str) -> None:
    services.retries().release_held(service)


def _forget_cached_key(services: Any, key_id: str) -> None:
    """This container stops trusting the key at once (others within ``KEY_CACHE_SECONDS``)."""
    services.authenticator().forget(key_id)


def _close_sockets_of_key(services: Any, key_id: str) -> None:
    services.realtime().close_key(key_id)


#: when (the hook's name) -> who reacts, in order
REACTIONS: dict[str, tuple[Reaction, ...]] = {
    "retry_job.finished": (_settle_schedule_run,),
    "dead_letter.resolved": (_resolve_job_of_dead_letter,),
    "breaker.closed": (_release_held_attempts,),
    "api_key.revoked": (_forget_cached_key, _close_sockets_of_key),
}


def react(services: Any, when: str, *args: Any) -> None:
    for reaction in REACTIONS[when]:
        reaction(services, *args)


def hook(when: str, services: Any) -> Callable[..., None]:
    """The callable a service is given for ``when``; ``services`` has a getter per service."""
    if when not in REACTIONS:
        raise KeyError(f"no reactions declared for {when!r}")
    return lambda *args: react(services, when, *args)
