"""Thin Celery entry points of the contact syncs: take a run id, call the service, stay idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="wecom.tasks.contacts.run_sync", ignore_result=True, acks_late=True,
             soft_time_limit=600, time_limit=660)
def run_sync(run_id: int) -> str:
    """One bounded step of a sync run; queues the next step while there is more. Safe to deliver
    twice: the step takes the run's advisory lock and claims it with a conditional UPDATE."""
    from wecom.services import sync

    outcome = sync.run_step(run_id=run_id)
    if outcome == "more":
        run_sync.delay(run_id)
    return outcome


@shared_task(name="wecom.tasks.contacts.sweep_syncs", ignore_result=True, soft_time_limit=50, time_limit=58)
def sweep_syncs() -> dict:
    """For the beat schedule: resume paused runs that are due, restart runs a dead worker left."""
    from wecom.services import sync

    return sync.sweep()


@shared_task(name="wecom.tasks.contacts.start_incremental", ignore_result=True, soft_time_limit=50, time_limit=58)
def start_incremental() -> int | None:
    """For the beat schedule: an incremental contact sync (the active one when there is one; none
    when no corp is configured)."""
    from scrm.actors import SystemActor
    from wecom.models import SyncKind
    from wecom.services import connection, sync

    if not connection.mode():
        return None
    return sync.start_run(kind=SyncKind.CONTACTS_INCREMENTAL, actor=SystemActor("wecom:schedule")).run.pk


@shared_task(name="wecom.tasks.contacts.start_groups", ignore_result=True, soft_time_limit=50, time_limit=58)
def start_groups() -> int | None:
    """For the beat schedule: a customer groups sync (the active one when there is one; none when no
    corp is configured)."""
    from scrm.actors import SystemActor
    from wecom.models import SyncKind
    from wecom.services import connection, sync

    if not connection.mode():
        return None
    return sync.start_run(kind=SyncKind.GROUPS, actor=SystemActor("wecom:schedule")).run.pk
