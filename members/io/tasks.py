"""Thin Celery entry points for member imports."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="members.io.tasks.run_import", ignore_result=True, acks_late=True)
def run_import(job_id: int) -> None:
    """Run one import job. Safe to deliver twice: the job is claimed with a conditional UPDATE."""
    from members.io import services

    services.run_import(job_id=job_id)


@shared_task(name="members.io.tasks.resume_imports", ignore_result=True)
def resume_imports() -> int:
    """Queue jobs left pending (a lost message) or abandoned by a dead worker. For the beat schedule."""
    from members.io import queries

    job_ids = queries.jobs_to_resume()
    for job_id in job_ids:
        run_import.delay(job_id)
    return len(job_ids)
