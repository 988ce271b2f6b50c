"""Celery entry points of the WeCom connector, one module per part (imported here so the worker's
autodiscovery registers them all)."""

from wecom.tasks import channels, connection, contacts, events, handovers, tags  # noqa: F401
