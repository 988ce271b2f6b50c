"""The Celery app. Queues and periodic tasks are named here, in one place."""

from __future__ import annotations

import os

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect(weak=False)
@signals.beat_init.connect(weak=False)
def _prepare_embedded_servers(**kwargs) -> None:
    """A worker or beat started without DATABASE_URL / REDIS_URL (in development) starts or joins the
    embedded servers the settings point at, before it reaches the broker; started by `up`, it has
    the URLs and this does nothing. This module is imported with the project (scrm/__init__.py), so
    only the worker and beat processes themselves may do it."""
    from scrm import embedded

    embedded.prepare()

QUEUES = ("default",)

# Every periodic task expires before its next run, so a backlog never runs the same tick twice.
app.conf.beat_schedule = {
    "heartbeat": {
        "task": "scrm.tasks.heartbeat",
        "schedule": 30.0,
        "kwargs": {"source": "beat"},
        "options": {"expires": 25},
    },
    "purge-idempotency-keys": {
        "task": "scrm.tasks.purge_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "refresh-rule-tags": {
        "task": "members.segments.tasks.refresh_rule_tags",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "resume-imports": {
        "task": "members.io.tasks.resume_imports",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "resume-order-imports": {
        "task": "orders.tasks.resume_order_imports",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Upload files past their retention, and members inactive past theirs (when the brand sets one).
    "privacy-retention": {
        "task": "members.tasks.run_retention",
        "schedule": crontab(hour=4, minute=15),
        "options": {"expires": 3 * 3600},
    },
    # django-axes' access logs (usernames, addresses, browsers) past SIYU_ACCESS_LOG_RETENTION_DAYS.
    "prune-access-logs": {
        "task": "scrm.tasks.prune_access_logs",
        "schedule": crontab(hour=4, minute=45),
        "options": {"expires": 3 * 3600},
    },
    "merge-duplicates-by-rule": {
        "task": "members.tasks.merge_duplicates_by_rule",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Orders whose buyer was unknown are linked as soon as the member appears (a hook on identity
    # writes); this sweep catches identities written by paths that bypass the hook.
    "link-pending-orders": {
        "task": "orders.tasks.link_pending_orders",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
    "recalculate-tiers-nightly": {
        "task": "tiers.tasks.recalculate_all_tiers",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 3 * 3600},
    },
    "expire-points": {
        "task": "points.tasks.expire_points",
        "schedule": crontab(minute=10),
        "options": {"expires": 3000},
    },
    # KOC levels: promotions within the hour; the first full run after a period starts demotes.
    "koc-recalculate-tiers": {
        "task": "koc.recalculate_tiers",
        "schedule": crontab(minute=40),
        "options": {"expires": 3000},
    },
    # The KOC overview's summary (posts per day, platform, store and topic; creators per window) rebuilt.
    "koc-refresh-figures": {
        "task": "koc.refresh_figures",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 540},
    },
    # The cockpit's summaries (insights.cockpit.services): members per day, new stage moves and the last
    # three days of sales every 15 minutes; the short presets' buyers and campaign members hourly;
    # everything after midnight.
    "insights-cockpit": {
        "task": "insights.tasks.refresh_cockpit",
        "schedule": 900.0,
        "options": {"expires": 840},
    },
    "insights-cockpit-buyers": {
        "task": "insights.tasks.refresh_cockpit_buyers",
        "schedule": crontab(minute=10),
        "options": {"expires": 3000},
    },
    "insights-cockpit-campaign-members": {
        "task": "insights.tasks.refresh_cockpit_campaign_members",
        "schedule": crontab(minute=40),
        "options": {"expires": 3000},
    },
    "insights-cockpit-full": {
        "task": "insights.tasks.refresh_cockpit_full",
        "schedule": crontab(hour=0, minute=20),
        "options": {"expires": 2 * 3600},
    },
    # Webhooks: new events fanned out to the subscriptions as deliveries, and due deliveries posted
    # (SKIP LOCKED: every worker shares them; each tick works up to 8 s while there is work);
    # deliveries and events past SIYU_EVENT_RETENTION_DAYS pruned nightly.
    "webhooks-relay": {
        "task": "webhooks.tasks.relay",
        "schedule": 2.0,
        "options": {"expires": 1.5},
    },
    "webhooks-send": {
        "task": "webhooks.tasks.send",
        "schedule": 5.0,
        "options": {"expires": 4},
    },
    "webhooks-prune": {
        "task": "webhooks.tasks.prune",
        "schedule": crontab(hour=4, minute=50),
        "options": {"expires": 3 * 3600},
    },
    # Staff tasks: today's from every rule (birthdays, welcomes, repurchases, dormant, WeCom sends), then expiry.
    "journeys-daily-rules": {
        "task": "journeys.tasks.run_daily_rules",
        "schedule": crontab(hour="6,13", minute=5),
        "options": {"expires": 3 * 3600},
    },
    # Content calendar: due posts handed to WeCom, their jobs and their senders' publish status polled.
    "content-calendar-tick": {
        "task": "content_calendar.tasks.tick",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Journeys: who met a live journey's trigger enters; due steps are carried out (SKIP LOCKED).
    "journeys-tick": {
        "task": "journeys.tasks.tick",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Open tasks long overdue expire (the task policy's days).
    "journeys-expire-tasks": {
        "task": "journeys.tasks.expire_overdue",
        "schedule": crontab(minute=25),
        "options": {"expires": 3000},
    },
    # Waitlist offers not confirmed in time lapse; their seats go to the next in line.
    "communities-expire-offers": {
        "task": "communities.tasks.expire_offers",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Members with a seat are reminded a day and two hours before the event (once per kind).
    "communities-send-reminders": {
        "task": "communities.tasks.send_reminders",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    # Communities linked to a WeCom customer group follow its members (callbacks missed are caught up).
    "communities-mirror-wecom-groups": {
        "task": "communities.tasks.mirror_wecom_groups",
        "schedule": 600.0,
        "options": {"expires": 580},
    },
    # Communities' standing rules: a segment's members join automatically, who left it leaves (daily).
    "communities-membership-rules": {
        "task": "communities.tasks.apply_membership_rules",
        "schedule": crontab(hour=4, minute=10),
        "options": {"expires": 3000},
    },
    # Members with a booking are reminded a day and two hours before it (once per kind).
    "appointments-send-reminders": {
        "task": "appointments.tasks.send_reminders",
        "schedule": 300.0,
        "options": {"expires": 280},
    },
    "release-commissions": {
        "task": "referrals.tasks.release_due_commissions",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    # WeCom contact syncs: paused runs that are due resume, runs a dead worker left restart.
    "wecom-sweep-syncs": {
        "task": "wecom.tasks.contacts.sweep_syncs",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # A nightly incremental contact sync (new contacts and churn callbacks may have missed); edits
    # arrive through callbacks. Nothing when no corp is configured or a run is active.
    "wecom-incremental-sync": {
        "task": "wecom.tasks.contacts.start_incremental",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3 * 3600},
    },
    # A nightly customer groups sync (what group callbacks may have missed, dismissed groups).
    "wecom-groups-sync": {
        "task": "wecom.tasks.contacts.start_groups",
        "schedule": crontab(hour=4, minute=15),
        "options": {"expires": 3 * 3600},
    },
    # WeCom corp tags both ways (a run unless one is active), and tag marks still due.
    "wecom-sync-tags": {
        "task": "wecom.tasks.tags.scheduled_tags_sync",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "wecom-send-tag-marks": {
        "task": "wecom.tasks.tags.send_marks",
        "schedule": 120.0,
        "options": {"expires": 110},
    },
    # WeCom callback events still pending (a lost queue message, a retry whose backoff passed), and
    # settled events past WECOM_EVENT_RETENTION_DAYS.
    "wecom-sweep-events": {
        "task": "wecom.tasks.events.sweep_events",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "wecom-purge-events": {
        "task": "wecom.tasks.events.purge_events",
        "schedule": crontab(hour=4, minute=30),
        "options": {"expires": 3 * 3600},
    },
    "refresh-rfm": {
        "task": "insights.tasks.refresh_rfm",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3 * 3600},
    },
    # Campaigns: start due sends, settle expired leases, send due deliveries (SKIP LOCKED: any number
    # of workers share it); the deliveries table's monthly partitions are made ahead.
    "campaigns-tick": {
        "task": "campaigns.tasks.tick",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    # WeCom mass messages: staff confirmations and per-customer results read back, cancels sent.
    "campaigns-wecom-results": {
        "task": "campaigns.tasks.poll_wecom_tasks",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Results summaries of large campaigns still moving (campaigns.services.figures).
    "campaigns-results-summaries": {
        "task": "campaigns.tasks.refresh_figures",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "campaigns-partitions": {
        "task": "campaigns.tasks.ensure_partitions",
        "schedule": crontab(hour=1, minute=5),
        "options": {"expires": 3 * 3600},
    },
    # WeCom handovers: send what is still queued and read transfer_result for waiting customers.
    "wecom-poll-handovers": {
        "task": "wecom.tasks.poll_handovers",
        "schedule": 600.0,
        "options": {"expires": 540},
    },
}
