"""Thin Celery entry points for member imports."""

from __future__ import annotations

from celery import shared_task

from members.io.services import IMPORTS

_SOFT, _HARD = IMPORTS.task_time_limits()


@shared_task(name="members.io.tasks.run_import", ignore_result=True, acks_late=True,
             soft_time_limit=_SOFT, time_limit=_HARD)
def run_import(job_id: int) -> None:
    """Run one import job. Safe to deliver twice: the attempt takes the job's lock and claims it
    with a conditional UPDATE; a job out of attempts is left alone."""
    from members.io import services

    services.run_import(job_id=job_id)


@shared_task(name="members.io.tasks.resume_imports", ignore_result=True, soft_time_limit=120, time_limit=150)
def resume_imports() -> dict:
    """For the beat schedule: the sweeper (services.sweep). Jobs left half-way by a dead worker are
    tried again while they have attempts left, else end failed saying why; jobs still pending
    (a lost message) are queued again."""
    from members.io import services

    return services.sweep()
