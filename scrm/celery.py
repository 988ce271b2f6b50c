"""The Celery app. Queues and periodic tasks are named here, in one place."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

QUEUES = ("default",)

# Every periodic task expires before its next run, so a backlog never runs the same tick twice.
app.conf.beat_schedule = {
    "heartbeat": {
        "task": "scrm.tasks.heartbeat",
        "schedule": 30.0,
        "kwargs": {"source": "beat"},
        "options": {"expires": 25},
    },
    "refresh-rule-tags": {
        "task": "members.segments.tasks.refresh_rule_tags",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "resume-imports": {
        "task": "members.io.tasks.resume_imports",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "merge-duplicates-by-rule": {
        "task": "members.tasks.merge_duplicates_by_rule",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
}
