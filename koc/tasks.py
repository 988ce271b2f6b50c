"""Celery entry points of the KOC programme (thin: each calls the tier recalculation). The schedule
runs `koc.recalculate_tiers` every hour (scrm/celery.py, "koc-recalculate-tiers"): promotions land
within the hour, and the first full run after a period starts is the period-end run that demotes.
`koc.refresh_figures` rebuilds the overview's summary every ten minutes ("koc-refresh-figures")."""

from __future__ import annotations

from celery import shared_task

from koc.services import figures, tiers


@shared_task(name="koc.recalculate_tiers", ignore_result=True, acks_late=True, soft_time_limit=1700, time_limit=1800)
def recalculate_tiers(trigger: str = "schedule") -> int:
    """Every creator. Idempotent: a second run changes and records nothing. Returns the run's id."""
    return tiers.recalculate(trigger=trigger).pk


@shared_task(name="koc.recalculate_creators", ignore_result=True, acks_late=True, soft_time_limit=110,
             time_limit=120)
def recalculate_creators(creator_ids: list[int]) -> int:
    """Some creators whose posts or metrics changed: promotion only (demotion waits for the period's end)."""
    return tiers.recalculate(creator_ids=creator_ids, trigger="posts").pk


@shared_task(name="koc.refresh_figures", ignore_result=True, acks_late=True, soft_time_limit=540, time_limit=600)
def refresh_figures() -> int:
    """The overview's summary rebuilt whole from the posts (koc.services.figures). Returns the rows written."""
    result = figures.refresh()
    return result["days"] + result["creator_windows"]
