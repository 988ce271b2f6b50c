"""Siyu project package: settings, the organisation, API plumbing and the Celery app."""

from scrm.celery import app as celery_app

__all__ = ["celery_app"]
