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


@shared_task(name="scrm.tasks.prune_access_logs", ignore_result=True)
def prune_access_logs() -> int:
    """Every night: delete django-axes' access logs (and access failure logs, when kept) older than
    SIYU_ACCESS_LOG_RETENTION_DAYS, through axes' own cleanup (what `axes_reset_logs --age` runs)."""
    from axes.handlers.proxy import AxesProxyHandler
    from django.conf import settings

    days = settings.SIYU_ACCESS_LOG_RETENTION_DAYS
    return AxesProxyHandler.reset_logs(age_days=days) + AxesProxyHandler.reset_failure_logs(age_days=days)
