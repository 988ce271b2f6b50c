"""Tasks: handovers. Thin entry points: take ids, call the handover service, stay idempotent (the
service claims items with SKIP LOCKED and conditional updates, so two runs at once send nobody twice)."""

from __future__ import annotations

from celery import shared_task

from wecom.services import handover as service


@shared_task(name="wecom.tasks.send_handover", ignore_result=True, acks_late=True, soft_time_limit=540,
             time_limit=600, bind=True, max_retries=None)
def send_handover(self, handover_id: int) -> int:
    """Send a handover's queued customers and groups; paused by WeCom (rate limit, outage), it runs
    again later and resumes with what is still queued (groups past the receiver's 300 a day wait for
    the periodic task)."""
    result = service.send_queued(handover_id=handover_id)
    if result.retry_after is not None:
        send_handover.apply_async((handover_id,), countdown=max(1.0, result.retry_after))
    return result.sent


@shared_task(name="wecom.tasks.poll_handovers", ignore_result=True, acks_late=True, soft_time_limit=540,
             time_limit=600)
def poll_handovers() -> int:
    """Periodic: for every running handover, send what is still queued (the items are the outbox, so
    work queued while the broker was down is not lost, groups held back by the daily limit go once
    the receiver's last 24 hours allow) and read WeCom's transfer results."""
    from wecom.client import errors

    n = 0
    for handover_id in service.due_handovers():
        try:
            service.send_queued(handover_id=handover_id)
            service.poll_results(handover_id=handover_id)
        except (errors.RateLimited, errors.Unavailable):
            break  # WeCom asks to wait: the next tick carries on
        n += 1
    return n
