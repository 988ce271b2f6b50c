"""Celery entry points of the content calendar: thin triggers over the database, safe to run twice or late."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="content_calendar.tasks.tick", ignore_result=True, soft_time_limit=50, time_limit=58)
def tick() -> dict:
    """For the beat schedule (every minute): due posts handed to WeCom, jobs and publish status polled."""
    from journeys.calendar import services

    return services.tick()
