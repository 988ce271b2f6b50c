"""KOC screens test data: a three-level ladder; creators 张0 (junior) and 张1 (senior) of store A
and 李0 (junior) of store B; posts with known metrics; a platform rate; a pending application of 张2."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from koc.models import Application, Creator, Level, PlatformRate, Post


@pytest.fixture
def ladder(db):
    return [Level.objects.create(rank=1, name="Junior", min_posts=1),
            Level.objects.create(rank=2, name="Intermediate", min_posts=5),
            Level.objects.create(rank=3, name="Senior", min_posts=10, min_viral=1, min_interactions=1000)]


@pytest.fixture
def koc(members, ladder, alice):
    a, b = members
    junior, _mid, senior = ladder
    now = timezone.now()
    ca = Creator.objects.create(member=a[0], level=junior, level_since=now, approved_by=alice)
    ca2 = Creator.objects.create(member=a[1], level=senior, level_since=now, approved_by=alice)
    cb = Creator.objects.create(member=b[0], level=junior, level_since=now, approved_by=alice)
    PlatformRate.objects.create(platform="xiaohongshu", cpm=Decimal("50"), cpe=Decimal("1"))
    application = Application.objects.create(member=a[2], motivation="I post every week")
    return {"ca": ca, "ca2": ca2, "cb": cb, "application": application, "now": now}


def make_post(creator, n, *, days_ago=1, views=0, interactions=0, media_value="0", platform="xiaohongshu",
              topic=None, viral=False):
    return Post.objects.create(
        creator=creator, platform=platform, url=f"https://www.xiaohongshu.com/explore/{creator.pk}x{n}",
        url_key=f"xiaohongshu.com/explore/{creator.pk}x{n}", title=f"Post {creator.pk}-{n}", topic=topic,
        published_at=timezone.now() - dt.timedelta(days=days_ago), views=views, interactions=interactions,
        media_value=Decimal(media_value), viral=viral)
