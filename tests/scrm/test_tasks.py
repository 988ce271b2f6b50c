"""Celery runs real tasks here: a worker thread consumes from the real Redis broker."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from scrm.celery import app
from scrm.models import ServiceHeartbeat
from scrm.tasks import heartbeat


@pytest.fixture
def celery_worker(transactional_db):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING") as worker:
        yield worker


def _wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_heartbeat_goes_through_broker_and_worker(celery_worker):
    heartbeat.delay(source="beat")
    assert _wait_for(lambda: ServiceHeartbeat.objects.filter(name__in=["beat", "worker"]).count() == 2)
    first = ServiceHeartbeat.objects.get(name="worker").seen_at
    heartbeat.delay()
    assert _wait_for(lambda: ServiceHeartbeat.objects.get(name="worker").seen_at > first)


def test_beat_schedule_expires_before_next_run():
    for name, entry in app.conf.beat_schedule.items():
        expires = entry.get("options", {}).get("expires")
        assert expires is not None, f"periodic task {name} has no expires"
        assert expires < entry["schedule"], f"periodic task {name} can pile up"
