"""Demo campaigns over the built-in outbox: one sent to a brand-wide demo segment (fanned out and
sent here, synchronously, so its funnel has numbers on a fresh start), one draft and one scheduled
for tomorrow morning. Idempotent: a rerun finds them by name and adds nothing."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending
from members.models import Member
from members.segments import services as segment_services
from members.segments.models import Segment
from scrm.actors import SystemActor

DEMO_ACTOR = SystemActor("campaigns:demo")
SEGMENT = "Demo: every member"
SENT, DRAFT, SCHEDULED = "Spring tasting (demo)", "Autumn new flavours (demo)", "Member day (demo)"
SEND_SECONDS = 20.0  # the seed's own sending; past it the worker's tick finishes the rest


def _segment() -> Segment:
    found = Segment.objects.filter(name=SEGMENT, store=None).first()
    return found or segment_services.create_segment(
        actor=DEMO_ACTOR, name=SEGMENT, definition={"all": []},
        description="Every member: the demo campaigns' audience.",
    )


def _campaign(name: str, segment: Segment, text: str, **fields) -> tuple[Campaign, bool]:
    found = Campaign.objects.filter(name=name, store=None).first()
    if found is not None:
        return found, False
    return lifecycle.create_campaign(actor=DEMO_ACTOR, data=lifecycle.CampaignInput(
        name=name, segment_id=segment.pk, channel="outbox", content=text, **fields,
    )), True


def _send_now(campaign: Campaign) -> None:
    lifecycle.approve(campaign=campaign, actor=DEMO_ACTOR)
    lifecycle.send(campaign=campaign, actor=DEMO_ACTOR)
    deadline = time.monotonic() + SEND_SECONDS
    while time.monotonic() < deadline:
        report = sending.tick(budget=max(1.0, deadline - time.monotonic()))
        campaign.refresh_from_db()
        if campaign.status != CampaignStatus.SENDING or not (report.claimed or report.capped):
            return  # done, or waiting (quiet hours, a retry's backoff): the worker's tick goes on


def seed() -> str:
    if not Member.objects.exists():
        return "campaigns: no members to send to; nothing seeded"
    segment = _segment()
    sent, new = _campaign(SENT, segment, "Hi {name}, our spring tasting is on this Saturday: as a {tier} member "
                                         "you have {points} points to spend there.")
    if new:
        _send_now(sent)
    _campaign(DRAFT, segment, "Hi {name}, three new autumn flavours are in store. Come and taste them!")
    tomorrow = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    scheduled, new = _campaign(SCHEDULED, segment, "Hi {name}, tomorrow is member day: double points for {tier} "
                                                   "members.", scheduled_at=tomorrow,
                               holdout_share=Decimal("0.1"))
    if new:
        lifecycle.approve(campaign=scheduled, actor=DEMO_ACTOR)
        lifecycle.send(campaign=scheduled, actor=DEMO_ACTOR)
    sent.refresh_from_db()
    return f"campaigns: {SENT!r} {sent.status}, a draft and one scheduled for tomorrow, over the outbox"
