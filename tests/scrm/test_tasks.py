"""Celery runs real tasks here: a worker thread consumes from the real Redis broker."""

from __future__ import annotations

from celery.schedules import crontab

from scrm.celery import app
from scrm.models import ServiceHeartbeat
from scrm.tasks import heartbeat
from tests.helpers import wait_for


def test_heartbeat_goes_through_broker_and_worker(celery_worker):
    heartbeat.delay(source="beat")
    assert wait_for(lambda: ServiceHeartbeat.objects.filter(name__in=["beat", "worker"]).count() == 2)
    first = ServiceHeartbeat.objects.get(name="worker").seen_at
    heartbeat.delay()
    assert wait_for(lambda: ServiceHeartbeat.objects.get(name="worker").seen_at > first)


def _shortest_interval(schedule) -> float:
    if isinstance(schedule, crontab):
        return 3600.0 if len(schedule.hour) == 24 else 86400.0
    return float(schedule)


def test_beat_schedule_expires_before_next_run():
    for name, entry in app.conf.beat_schedule.items():
        expires = entry.get("options", {}).get("expires")
        assert expires is not None, f"periodic task {name} has no expires"
        assert expires < _shortest_interval(entry["schedule"]), f"periodic task {name} can pile up"


def test_every_periodic_task_exists():
    app.loader.import_default_modules()
    missing = [entry["task"] for entry in app.conf.beat_schedule.values() if entry["task"] not in app.tasks]
    assert not missing, f"beat schedules tasks no worker knows: {missing}"
