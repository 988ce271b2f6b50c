"""Celery entry points of journeys: thin triggers over the database, safe to run twice or late."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="journeys.tasks.run_daily_rules", ignore_result=True, soft_time_limit=1800, time_limit=1900)
def run_daily_rules() -> dict:
    """For the beat schedule: today's tasks from every rule (a re-run creates nothing new), then expiry."""
    from journeys.services import rules

    return rules.run_daily()


@shared_task(name="journeys.tasks.expire_overdue", ignore_result=True, soft_time_limit=240, time_limit=270)
def expire_overdue() -> int:
    """For the beat schedule: open tasks long overdue expire."""
    from journeys.services import tasks

    return tasks.expire_overdue()


@shared_task(name="journeys.tasks.tick", ignore_result=True, soft_time_limit=50, time_limit=58)
def tick() -> dict:
    """For the beat schedule: enter who met a live journey's trigger, carry out the due steps (SKIP
    LOCKED: safe on any number of workers)."""
    import dataclasses

    from journeys.services import ticking

    return dataclasses.asdict(ticking.tick(budget=40.0))
