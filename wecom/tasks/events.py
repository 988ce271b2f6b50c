"""Thin Celery entry points of the callback events: process one event (queued on commit by the
callback endpoint), sweep what is still pending (beat), and delete old settled events (beat).
Each is safe to run twice or late: the service claims rows with SKIP LOCKED."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="wecom.tasks.events.process_event", ignore_result=True, acks_late=True,
             soft_time_limit=60, time_limit=75)
def process_event(event_id: int) -> str | None:
    """Process one stored callback event now (nothing if it is gone, settled or held by another worker)."""
    from wecom.services import events

    return events.process_event(event_id)


@shared_task(name="wecom.tasks.events.sweep_events", ignore_result=True, soft_time_limit=50, time_limit=58)
def sweep_events() -> dict:
    """For the beat schedule: every pending event that is due, new ones a lost message left and
    failed attempts whose backoff has passed."""
    from wecom.services import events

    return events.process_pending(limit=2000, seconds=40)


@shared_task(name="wecom.tasks.events.purge_events", ignore_result=True, soft_time_limit=1800, time_limit=1860)
def purge_events() -> int:
    """For the beat schedule: delete settled events past WECOM_EVENT_RETENTION_DAYS."""
    from wecom.services import events

    return events.purge_old_events()
