"""KOC content test data: a creator in store A (a member of carol's) and one in store B, two levels,
platform rates for Xiaohongshu and Douyin, and a helper to record a post."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from koc.models import Creator, Level, PlatformRate, Programme


@pytest.fixture
def programme(db):
    return Programme.current()


@pytest.fixture
def levels(db):
    return (Level.objects.create(rank=1, name="Junior"), Level.objects.create(rank=2, name="Intermediate"),
            Level.objects.create(rank=3, name="Senior"))


@pytest.fixture
def rates(db):
    return (PlatformRate.objects.create(platform="xiaohongshu", cpm=Decimal("120"), cpe=Decimal("0.5")),
            PlatformRate.objects.create(platform="douyin", cpm=Decimal("80"), cpe=Decimal("0")))


@pytest.fixture
def creator(members, levels):
    return Creator.objects.create(member=members[0][0], level=levels[0])


@pytest.fixture
def creator_b(members, levels):
    return Creator.objects.create(member=members[1][0], level=levels[0])


@pytest.fixture
def ago():
    def at(**delta):
        return timezone.now() - dt.timedelta(**delta)

    return at


@pytest.fixture
def make_post(bob, ago):
    from koc.services import posts

    counter = iter(range(1, 10_000))

    def make(creator, *, url=None, actor=None, published_at=None, **fields):
        url = url or f"https://www.xiaohongshu.com/explore/note{next(counter):04d}"
        return posts.record_post(creator=creator, actor=actor or bob, url=url,
                                 published_at=published_at or ago(days=3), **fields)

    return make
