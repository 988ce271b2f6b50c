"""Thin Celery entry points for the organisation."""

from __future__ import annotations

from celery import shared_task

from scrm.api import idempotency
from scrm.services import health


@shared_task(name="scrm.tasks.heartbeat", ignore_result=True)
def heartbeat(source: str = "worker") -> None:
    """Proves the chain beat -> broker -> worker -> database works; the home page shows it."""
    health.record_heartbeat(names=[source, "worker"] if source != "worker" else ["worker"])


@shared_task(name="scrm.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Keys older than 24 hours."""
    return idempotency.purge_expired()
