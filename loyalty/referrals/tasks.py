"""Celery entry points of referrals (thin: each calls one service)."""

from __future__ import annotations

from celery import shared_task

from loyalty.orders import hooks
from loyalty.referrals import services


@shared_task(
    name="referrals.tasks.sync_commissions", ignore_result=True, acks_late=True, soft_time_limit=540, time_limit=600
)
def sync_commissions(order_ids: list[int]) -> None:
    """After orders were created, refunded or linked: their commissions and referrers. Idempotent;
    orders deleted meanwhile are simply not found."""
    services.sync_commissions(order_ids=order_ids)


@shared_task(
    name="referrals.tasks.release_due_commissions",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=1500,
    time_limit=1800,
)
def release_due_commissions() -> int:
    """Hourly: pending commissions past their return window become payable."""
    return services.release_due_commissions()


def queue_sync(order_ids: list[int], member_ids: list[int]) -> None:
    """loyalty.orders.hooks callback (runs after commit): one task per batch of orders."""
    for start in range(0, len(order_ids), 5000):
        chunk = order_ids[start : start + 5000]
        hooks.queue(sync_commissions, chunk)
