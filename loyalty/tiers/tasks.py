"""Celery entry points of tiers (thin: each calls recalculate_tiers). The nightly run is scheduled
in scrm/celery.py ("recalculate-tiers-nightly"); orders changes queue recalculate_member_tiers."""

from __future__ import annotations

from celery import shared_task

from loyalty.orders import hooks
from loyalty.tiers import services
from loyalty.tiers.models import ChangeReason
from scrm.models import User


@shared_task(
    name="tiers.tasks.recalculate_all_tiers", ignore_result=True, acks_late=True, soft_time_limit=1700, time_limit=1800
)
def recalculate_all_tiers(reason: str = ChangeReason.NIGHTLY, actor_id: int | None = None) -> int:
    """Everyone, nightly (the window slides, grace periods end) and after a ladder change.
    Idempotent: a second run finds nothing left to change."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    label = "" if actor else ("nightly" if reason == ChangeReason.NIGHTLY else "")
    result = services.recalculate_tiers(reason=reason, actor=actor, actor_label=label)
    return result.members_written


@shared_task(
    name="tiers.tasks.recalculate_member_tiers", ignore_result=True, acks_late=True, soft_time_limit=110, time_limit=120
)
def recalculate_member_tiers(member_ids: list[int], reason: str = ChangeReason.ORDER) -> int:
    """The members whose orders were created, refunded or moved; members gone since are skipped."""
    result = services.recalculate_tiers(member_ids=member_ids, reason=reason, actor_label="orders")
    return result.members_written


def queue_after_orders_changed(order_ids: list[int], member_ids: list[int]) -> None:
    """loyalty.orders.hooks callback: it runs after the orders' transaction committed."""
    if member_ids:
        hooks.queue(recalculate_member_tiers, member_ids)
