"""The SQL names of the journeys' tables, for raw SQL here and in the apps built on journeys."""

from __future__ import annotations

from journeys.models import Task

TASK = Task._meta.db_table
