"""The project's Celery app with the reliability tests' providers registered, for real worker
subprocesses: `celery -A tests.campaigns.celeryapp worker` (prefork children inherit the channels)."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
django.setup()

from scrm.celery import app  # noqa: E402
from tests.campaigns import providers  # noqa: E402

providers.register()

__all__ = ["app"]
