"""Celery entry points of the member centre (thin: each calls one service).

Periodic schedule wanted in scrm/celery.py (beat_schedule):
    "merge-duplicates-by-rule": {"task": "members.tasks.merge_duplicates_by_rule", "schedule": 3600.0,
                                 "options": {"expires": 3000}},
"""

from __future__ import annotations

from celery import shared_task

from members.services import merge, retention


@shared_task(name="members.tasks.merge_duplicates_by_rule", ignore_result=True, acks_late=True)
def merge_duplicates_by_rule(limit: int = 500) -> int:
    """Merge members sharing a WeChat unionid (the oldest survives). Idempotent: a merged duplicate
    is no longer live, so a second run (or two workers at once) finds nothing left to do.
    Same-phone pairs are only listed (duplicate_candidates), for an operator to confirm."""
    return merge.merge_by_unionid(limit=limit)


@shared_task(name="members.tasks.run_retention", ignore_result=True, acks_late=True)
def run_retention() -> dict:
    """Delete upload files and reports past their retention and erase members inactive past theirs.
    Idempotent: what one run removed is not there for the next; each pass is bounded."""
    return retention.run_retention()
