"""Campaign test data: members of two stores with marketing consent, a brand-wide segment, and a
helper to make a campaign and start it."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.models import SendPolicy
from campaigns.services import campaigns as lifecycle
from members.models import Consent, Member
from members.segments import services as segment_services


def consent(member, granted=True, purpose="marketing", channel="all"):
    return Consent.objects.update_or_create(
        member=member, purpose=purpose, channel=channel, defaults={"granted": granted}
    )[0]


@pytest.fixture
def policy(db):
    """No caps, no quiet hours, unless a test sets them."""
    return SendPolicy.objects.update_or_create(
        pk=1, defaults={"daily_cap": 0, "weekly_cap": 0, "monthly_cap": 0, "quiet_start": None, "quiet_end": None,
                        "max_attempts": 3},
    )[0]


@pytest.fixture
def audience(members):
    """Every fixture member consents to marketing (3 in store A, 2 in store B)."""
    a, b = members
    for member in (*a, *b):
        consent(member)
    return a, b


@pytest.fixture
def everyone(alice):
    return segment_services.create_segment(actor=alice, name="everyone", definition={"all": []})


@pytest.fixture
def make_campaign(alice, everyone, policy):
    def make(*, actor=None, segment=None, content="Hi {name}", start=True, **fields):
        actor = actor or alice
        data = lifecycle.CampaignInput(
            name=fields.pop("name", "spring"), segment_id=(segment or everyone).pk,
            channel=fields.pop("channel", "outbox"),
            content=content, **fields,
        )
        campaign = lifecycle.create_campaign(actor=actor, data=data)
        if start:
            lifecycle.approve(campaign=campaign, actor=actor)
            campaign = lifecycle.send(campaign=campaign, actor=actor)
        return campaign

    return make


def make_members(store, n, *, prefix="m", consenting=True):
    made = [Member.objects.create(name=f"{prefix}{i}", phone=f"+86137{store.pk:02d}{i:06d}", home_store=store)
            for i in range(n)]
    if consenting:
        for member in made:
            consent(member)
    return made


def days_ago(n):
    return dt.date.today() - dt.timedelta(days=n)


# The WeCom channel's fixtures (a local WeCom server, its staff in Siyu): tests/campaigns/wecom.py.
from tests.campaigns.wecom import erin, make_corp, no_wecom, server, wstaff  # noqa: E402, F401
