"""Fixtures of the KOC tiers tests: a three-level ladder, creators in both stores, posts made
directly (the posts services are tested on their own)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from koc.models import Creator, Level, Post, Programme

_urls = itertools.count(1)


@pytest.fixture
def programme(db):
    return Programme.objects.create(pk=1, window_days=90, period_months=3, grace_percent=20)


@pytest.fixture
def ladder(programme):
    return [
        Level.objects.create(rank=1, name="Junior", min_posts=1),
        Level.objects.create(rank=2, name="Intermediate", min_posts=10, min_interactions=1000),
        Level.objects.create(rank=3, name="Senior", min_posts=10, min_viral=2, min_interactions=5000),
    ]


@pytest.fixture
def make_creator(members):
    def make(member=None, **fields):
        member = member or members[0][0]
        return Creator.objects.create(member=member, **fields)

    return make


def add_posts(creator, n, *, interactions=100, viral=False, days_ago=5, platform="xiaohongshu"):
    at = timezone.now() - timedelta(days=days_ago)
    return [
        Post.objects.create(creator=creator, platform=platform, url=f"https://xhs.example/p/{k}",
                            url_key=f"xhs.example/p/{k}", published_at=at, interactions=interactions, viral=viral)
        for k in (next(_urls) for _ in range(n))
    ]
