"""Tasks: corp tags (the tags sync run, its beat schedule) and the mark_tag outbox."""

from __future__ import annotations

from celery import shared_task

from wecom.services import tags as services


@shared_task(name="wecom.tasks.tags.run_tags", ignore_result=True, acks_late=True, soft_time_limit=540,
             time_limit=600)
def run_tags(run_id: int) -> None:
    """Run a queued or paused tags run; a paused one queues itself again for when it is due."""
    row = services.run(run_id=run_id)
    if row is not None and row.status == "paused" and row.resume_at is not None:
        run_tags.apply_async((run_id,), eta=row.resume_at)


@shared_task(name="wecom.tasks.tags.scheduled_tags_sync", ignore_result=True, soft_time_limit=60, time_limit=90)
def scheduled_tags_sync() -> None:
    """Beat: a tags run (both ways), unless one is active; a paused one past its due time resumes,
    a queued one whose message was lost is queued again, one a dead worker left running restarts."""
    from datetime import timedelta

    from django.utils import timezone

    from wecom.models import RunStatus, SyncKind, SyncRun

    now = timezone.now()
    runs = SyncRun.objects.filter(kind=SyncKind.TAGS)
    runs.filter(status=RunStatus.RUNNING, heartbeat_at__lt=now - timedelta(minutes=15)).update(
        status=RunStatus.QUEUED
    )
    due = runs.filter(status=RunStatus.PAUSED, resume_at__lte=now) | runs.filter(
        status=RunStatus.QUEUED, created_at__lt=now - timedelta(minutes=2)
    )
    for run_id in due.values_list("pk", flat=True):
        run_tags.delay(run_id)
    if not SyncRun.objects.filter(kind=SyncKind.TAGS, status__in=("queued", "running", "paused")).exists():
        services.start_run(actor=services.TAGS_ACTOR)


@shared_task(name="wecom.tasks.tags.send_marks", ignore_result=True, acks_late=True, soft_time_limit=240,
             time_limit=300)
def send_marks(mark_ids: list[int] | None = None) -> None:
    """Send TagMark rows (given ones after commit, or every due one from beat)."""
    services.send_marks(mark_ids=mark_ids)
