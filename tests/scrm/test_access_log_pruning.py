"""django-axes' access logs (who signed in, from where, with which browser) are pruned every night:
rows older than SIYU_ACCESS_LOG_RETENTION_DAYS go, newer ones stay."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessFailureLog, AccessLog
from celery.schedules import crontab
from django.utils import timezone

from scrm.celery import app
from scrm.tasks import prune_access_logs


def _log(model, username, days_ago, **extra):
    row = model.objects.create(username=username, ip_address="10.0.0.9", user_agent="pytest", **extra)
    model.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - timedelta(days=days_ago))
    return row


def test_access_logs_past_the_retention_are_deleted(db, settings):
    settings.SIYU_ACCESS_LOG_RETENTION_DAYS = 30
    old = [_log(AccessLog, "alice", 31), _log(AccessLog, "bob", 400)]
    kept = [_log(AccessLog, "carol", 29), _log(AccessLog, "dave", 0)]
    failure_old, failure_new = _log(AccessFailureLog, "eve", 45), _log(AccessFailureLog, "eve", 2)
    assert prune_access_logs.apply().get() == 3
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert list(AccessFailureLog.objects.values_list("pk", flat=True)) == [failure_new.pk]
    assert not AccessLog.objects.filter(pk__in=[row.pk for row in old]).exists()
    assert not AccessFailureLog.objects.filter(pk=failure_old.pk).exists()
    assert prune_access_logs.apply().get() == 0  # a rerun finds nothing more


def test_the_retention_is_a_setting(db, settings):
    settings.SIYU_ACCESS_LOG_RETENTION_DAYS = 7
    _log(AccessLog, "alice", 8)
    recent = _log(AccessLog, "bob", 6)
    assert prune_access_logs.apply().get() == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]


def test_it_runs_every_night():
    entry = app.conf.beat_schedule["prune-access-logs"]
    assert entry["task"] == "scrm.tasks.prune_access_logs"
    assert isinstance(entry["schedule"], crontab) and entry["options"]["expires"] < 86400
