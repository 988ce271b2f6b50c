"""Celery entry points of appointments: thin triggers over the database, safe to run twice or late."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="appointments.tasks.send_reminders", ignore_result=True, soft_time_limit=240, time_limit=270)
def send_reminders() -> int:
    """For the beat schedule: remind members of their bookings a day and two hours before (each reminder
    handed to the campaigns' engine as it is written; its sending tick sends it)."""
    from appointments.services import reminders

    return reminders.remind_due()
