"""Tasks: channel codes (their contact ways in WeCom)."""

from __future__ import annotations

from celery import shared_task

from wecom.client import errors
from wecom.services import channels as services


@shared_task(
    name="wecom.tasks.channels.push_code",
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=8,
    soft_time_limit=120,
    time_limit=150,
)
def push_code(self, code_id: int) -> None:
    """Create, update or delete the code's contact way; exactly once however often it runs. Rate
    limits and outages are retried later (with backoff); refusals are kept on the row."""
    try:
        services.push_code(code_id=code_id)
    except errors.RateLimited as exc:
        raise self.retry(countdown=max(exc.retry_after, 5)) from exc
    except errors.Unavailable as exc:
        raise self.retry(countdown=min(30 * 2 ** self.request.retries, 1800)) from exc
