"""Celery entry points of webhooks: thin triggers over the database, safe to run twice, late or at
once on several workers (one relay at a time under an advisory lock; the senders claim their rows
with SKIP LOCKED). Each tick works for a few seconds while there is work, so a burst is drained by
every worker beat reaches."""

from __future__ import annotations

import dataclasses

from celery import shared_task

TICK_SECONDS = 8.0
PRUNE_BATCHES = 100


@shared_task(name="webhooks.tasks.relay", ignore_result=True, soft_time_limit=50, time_limit=58)
def relay() -> dict:
    """For the beat schedule: fan new events out to the subscriptions as deliveries."""
    from webhooks.services import relay as relaying

    return dataclasses.asdict(relaying.run(seconds=TICK_SECONDS))


@shared_task(name="webhooks.tasks.send", ignore_result=True, soft_time_limit=50, time_limit=58)
def send() -> dict:
    """For the beat schedule: post due deliveries and write their answers back."""
    from webhooks.services import sending

    return dataclasses.asdict(sending.run(seconds=TICK_SECONDS))


@shared_task(name="webhooks.tasks.prune", ignore_result=True, soft_time_limit=1700, time_limit=1800)
def prune() -> dict:
    """For the beat schedule: deliveries of events past retention, then the events, in batches."""
    from webhooks.services import relay as relaying

    return dataclasses.asdict(relaying.prune(batches=PRUNE_BATCHES))
