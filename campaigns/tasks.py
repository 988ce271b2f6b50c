"""Celery entry points of campaigns: thin triggers over the database, safe to run twice or late
(the deliveries are the work; the tick claims them with SKIP LOCKED)."""

from __future__ import annotations

import dataclasses

from celery import shared_task


@shared_task(name="campaigns.tasks.tick", ignore_result=True, soft_time_limit=50, time_limit=58)
def tick() -> dict:
    """For the beat schedule: start due campaigns, settle expired leases, send due deliveries."""
    from campaigns.services import sending

    return dataclasses.asdict(sending.tick())


@shared_task(name="campaigns.tasks.poll_wecom_tasks", ignore_result=True, soft_time_limit=50, time_limit=58)
def poll_wecom_tasks() -> dict:
    """For the beat schedule: read WeCom mass-message tasks' confirmations and results back, cancel
    the tasks of cancelled campaigns (bounded work per run; SKIP LOCKED)."""
    from campaigns.services import wecom_results

    return dataclasses.asdict(wecom_results.poll())


@shared_task(name="campaigns.tasks.ensure_partitions", ignore_result=True, soft_time_limit=300, time_limit=330)
def ensure_partitions() -> list[str]:
    """For the beat schedule: the deliveries table's partitions for this month and the next two."""
    from campaigns import partitions

    return [f"{month:%Y-%m}" for month in partitions.ensure_partitions(months_ahead=2)]


@shared_task(name="campaigns.tasks.refresh_figures", ignore_result=True, soft_time_limit=1800, time_limit=1860)
def refresh_figures() -> list[int]:
    """For the beat schedule: refresh the results summaries of large campaigns still moving (a few
    per run, oldest first; campaigns.services.figures)."""
    from campaigns.services import figures

    return figures.refresh_due()


@shared_task(name="campaigns.tasks.refresh_campaign_figures", ignore_result=True, soft_time_limit=1800,
             time_limit=1860)
def refresh_campaign_figures(campaign_id: int) -> bool:
    """A refresh asked for on the results page; nothing when another worker is summing it."""
    from campaigns.models import Campaign
    from campaigns.services import figures

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return campaign is not None and figures.refresh(campaign=campaign) is not None
