"""The programme's settings and platform rates: validated, brand-wide, and every post's figures
recomputed with them in the same transaction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from koc.models import PlatformRate, Post, Programme
from koc.services import settings
from scrm.errors import Forbidden, InvalidInput


def test_weights_change_recomputes_posts(creator, make_post, alice, rates):
    post = make_post(creator)
    Post.objects.filter(pk=post.pk).update(views=5000, likes=300, saves=120, comments=40, shares=10)
    settings.update_programme(actor=alice, like_weight="0.5", viral_interactions=100)
    post.refresh_from_db()
    assert (post.interactions, post.viral) == (550, True)  # 150 + 240 + 120 + 40, 11 %
    assert Programme.current().like_weight == Decimal("0.50")


def test_bad_settings_are_refused_naming_each_and_nothing_changes(alice, programme):
    with pytest.raises(InvalidInput) as caught:
        settings.update_programme(actor=alice, like_weight="-1", save_weight="1.234", window_days=3,
                                  grace_percent=True, viral_rate="abc")
    assert set(caught.value.details) == {"like_weight", "save_weight", "window_days", "grace_percent", "viral_rate"}
    assert Programme.current().like_weight == Decimal("1")
    with pytest.raises(TypeError):
        settings.update_programme(actor=alice, colour="red")


def test_only_brand_wide_actors_change_them(bob, programme):
    with pytest.raises(Forbidden):
        settings.update_programme(actor=bob, like_weight=2)
    with pytest.raises(Forbidden):
        settings.set_rate(actor=bob, platform="weibo", cpm=10)


def test_a_rate_recomputes_its_platforms_posts(creator, make_post, alice, rates):
    post = make_post(creator, url="https://weibo.com/1/A")
    Post.objects.filter(pk=post.pk).update(views=4000, likes=10)
    rate = settings.set_rate(actor=alice, platform="weibo", cpm="25.5", cpe="0.1")
    assert (rate.cpm, rate.cpe) == (Decimal("25.50"), Decimal("0.10"))
    post.refresh_from_db()
    assert post.media_value == Decimal("103.00")  # 4 × 25.5 + 10 × 0.1
    settings.set_rate(actor=alice, platform="weibo", cpm=0)
    post.refresh_from_db()
    assert post.media_value == Decimal("0.00")
    with pytest.raises(InvalidInput) as caught:
        settings.set_rate(actor=alice, platform="myspace", cpm=-1, cpe="x")
    assert set(caught.value.details) == {"platform", "cpm", "cpe"}
    assert PlatformRate.objects.count() == 3
