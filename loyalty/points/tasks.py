"""Celery entry points of points (thin: each calls one service)."""

from __future__ import annotations

from celery import shared_task

from loyalty.points import services


@shared_task(name="points.tasks.sync_orders", ignore_result=True, acks_late=True, soft_time_limit=300, time_limit=360)
def sync_orders(order_ids: list[int], member_ids: list[int] | None = None) -> None:
    """Earn, take back or move points for orders that changed. Idempotent: an order earns once,
    a refund is taken back once, so a redelivered task changes nothing; gone orders are skipped."""
    services.sync_orders(order_ids=order_ids, member_ids=member_ids or [])


@shared_task(
    name="points.tasks.expire_points", ignore_result=True, acks_late=True, soft_time_limit=3000, time_limit=3300
)
def expire_points() -> int:
    """Hourly: expire every lot whose date has passed (scheduled in scrm/celery.py)."""
    return services.expire_due_points()
