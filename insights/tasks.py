"""Celery entry points of insights (thin: each calls one service)."""

from __future__ import annotations

from celery import shared_task

from insights import services
from insights.cockpit import services as cockpit_services
from loyalty.orders import hooks


@shared_task(
    name="insights.tasks.refresh_rfm",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=3 * 3600 - 300,
    time_limit=3 * 3600,
)
def refresh_rfm() -> dict:
    """Nightly: every member's RFM scores by quintiles, and the boundaries rescoring uses."""
    return services.refresh_rfm()


@shared_task(
    name="insights.tasks.rescore_members", ignore_result=True, acks_late=True, soft_time_limit=540, time_limit=600
)
def rescore_members(member_ids: list[int]) -> None:
    """After orders changed: these members against the stored boundaries; gone members are skipped."""
    services.rescore_members(member_ids=member_ids)


def queue_rescore(order_ids: list[int], member_ids: list[int]) -> None:
    """loyalty.orders.hooks callback (runs after commit)."""
    for start in range(0, len(member_ids), 5000):
        chunk = member_ids[start : start + 5000]
        hooks.queue(rescore_members, chunk)


@shared_task(
    name="insights.tasks.refresh_cockpit", ignore_result=True, acks_late=True, soft_time_limit=840, time_limit=900
)
def refresh_cockpit() -> dict:
    """Every 15 minutes: the cockpit's members per day, new stage moves, the last three days of sales and
    activity, the distinct active members of the 7- and 30-day presets and of the last days."""
    return cockpit_services.refresh(full=False)


@shared_task(
    name="insights.tasks.refresh_cockpit_buyers", ignore_result=True, acks_late=True, soft_time_limit=3300,
    time_limit=3600,
)
def refresh_cockpit_buyers() -> int:
    """Hourly: the buyers of the 7- and 30-day periods (and the periods they are compared with)."""
    return cockpit_services.refresh_buyers(presets=cockpit_services.QUICK_BUYER_PRESETS)


@shared_task(
    name="insights.tasks.refresh_cockpit_campaign_members", ignore_result=True, acks_late=True,
    soft_time_limit=3300, time_limit=3600,
)
def refresh_cockpit_campaign_members() -> int:
    """Hourly: the distinct members of the campaigns started in the 7- and 30-day periods."""
    return cockpit_services.refresh_campaign_members(presets=cockpit_services.QUICK_BUYER_PRESETS)


@shared_task(
    name="insights.tasks.refresh_cockpit_full",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=2 * 3600 - 300,
    time_limit=2 * 3600,
)
def refresh_cockpit_full() -> dict:
    """Just after midnight: every cockpit summary rebuilt, the buyers of every preset period of the new day."""
    return cockpit_services.refresh(full=True)
