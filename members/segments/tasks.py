"""Celery entry points of segments: keeping rule tags current.

Beat entry (scrm/celery.py):
    "refresh-rule-tags": {"task": "members.segments.tasks.refresh_rule_tags", "schedule": 3600.0,
                          "options": {"expires": 3000}},
"""

from __future__ import annotations

import logging

from celery import shared_task

from members.models import Tag
from members.segments import services
from members.segments.definition import DefinitionError

logger = logging.getLogger(__name__)


@shared_task(name="members.segments.tasks.refresh_rule_tags", ignore_result=True)
def refresh_rule_tags() -> int:
    """Periodic: queue one refresh per rule tag (each is idempotent); returns how many were queued."""
    tag_ids = list(Tag.objects.filter(rule__isnull=False).order_by("pk").values_list("pk", flat=True))
    for tag_id in tag_ids:
        refresh_rule_tag.delay(tag_id)
    return len(tag_ids)


@shared_task(name="members.segments.tasks.refresh_rule_tag", ignore_result=True, acks_late=True,
             soft_time_limit=1500, time_limit=1800)
def refresh_rule_tag(tag_id: int) -> None:
    """Apply one rule tag's rule to its members; quiet when the tag is gone or lost its rule."""
    try:
        result = services.refresh_rule_tag(tag_id=tag_id)
    except DefinitionError as exc:
        # A rule that no longer validates (a tag or attribute it names was deleted) cannot be
        # applied; retrying would not help. The tag keeps its members until the rule is fixed.
        logger.warning("rule tag %s has an invalid rule: %s", tag_id, exc)
        return
    if result is not None:
        logger.info("rule tag %s: %s added, %s removed", tag_id, result.added, result.removed)
