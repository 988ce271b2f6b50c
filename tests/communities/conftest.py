"""Communities test data: a running club of store A owned by carol (a clerk), with bob its store's
manager, and an event of it starting tomorrow."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from communities.services import communities as community_services
from communities.services import events as event_services


@pytest.fixture
def club(store_a, carol, bob):
    return community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=store_a, name="Night runners", owner=carol, kind="running",
    ))


@pytest.fixture
def make_event(club, bob):
    def make(*, actor=None, capacity=2, **fields):
        start = fields.pop("starts_at", timezone.now() + dt.timedelta(days=1))
        return event_services.create_event(actor=actor or bob, data=event_services.EventInput(
            title=fields.pop("title", "Night run"), place=fields.pop("place", "Riverside"), starts_at=start,
            ends_at=fields.pop("ends_at", start + dt.timedelta(hours=2)), capacity=capacity,
            community=fields.pop("community", club), **fields,
        ))

    return make
