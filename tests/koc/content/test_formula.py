"""The media-value formula against numbers worked out by hand, and the set-based recomputation
agreeing with it after the weights or a platform's rate change."""

from __future__ import annotations

from decimal import Decimal

from koc.models import PlatformRate, Post
from koc.services import formula


def test_one_post_by_hand(programme, rates):
    # weights 1, 2, 3, 4: 300×1 + 120×2 + 40×3 + 10×4 = 300 + 240 + 120 + 40 = 700
    # rate 700 / 5000 × 100 = 14.00 %; viral: 5000 ≥ 500, 700 < 1000 → not viral
    # media value (Xiaohongshu, CPM 120, CPE 0.5): 5000 / 1000 × 120 + 700 × 0.5 = 600 + 350 = 950.00
    result = formula.figures(platform="xiaohongshu", views=5000, likes=300, saves=120, comments=40, shares=10)
    assert result == formula.Figures(interactions=700, interaction_rate=Decimal("14.00"), viral=False,
                                     media_value=Decimal("950.00"))
    # 600 + 200×2 + 0 + 0 = 1000 interactions on 7000 views: 14.29 % (14.2857…), viral
    # Douyin (CPM 80, CPE 0): 7000 / 1000 × 80 = 560.00
    result = formula.figures(platform="douyin", views=7000, likes=600, saves=200, comments=0, shares=0)
    assert result == formula.Figures(interactions=1000, interaction_rate=Decimal("14.29"), viral=True,
                                     media_value=Decimal("560.00"))


def test_edges_no_views_no_rate_and_rounding(programme, rates):
    assert formula.figures(platform="xiaohongshu", views=0, likes=5, saves=0, comments=0, shares=0) == \
        formula.Figures(5, Decimal("0.00"), False, Decimal("2.50"))
    # Weibo has no rate: media value 0
    assert formula.figures(platform="weibo", views=9000, likes=10, saves=0, comments=0, shares=0).media_value == 0
    programme.like_weight = Decimal("0.5")
    # 3 likes × 0.5 = 1.5 → 2 (half up); 2 / 3 views × 100 = 66.67
    result = formula.figures(platform="weibo", views=3, likes=3, saves=0, comments=0, shares=0, programme=programme)
    assert (result.interactions, result.interaction_rate) == (2, Decimal("66.67"))
    # the rate saturates at what the column holds
    assert formula.figures(platform="weibo", views=1, likes=10**9, saves=0, comments=0, shares=0).interaction_rate \
        == formula.MAX_RATE


def test_viral_needs_all_three_bars(programme):
    programme.viral_min_views = 0
    programme.viral_interactions = 0
    programme.viral_rate = Decimal("0")
    # a post nobody saw is never viral, even with every bar at zero
    assert not formula.figures(platform="weibo", views=0, likes=0, saves=0, comments=0, shares=0,
                               programme=programme, rate=None).viral
    assert formula.figures(platform="weibo", views=1, likes=0, saves=0, comments=0, shares=0,
                           programme=programme, rate=None).viral


def _counters(post, **values):
    Post.objects.filter(pk=post.pk).update(**values)


def test_recompute_all_after_a_rate_and_weights_change_matches_the_python_formula(creator, make_post, rates,
                                                                                 programme):
    xhs = make_post(creator)
    dy = make_post(creator, url="https://www.douyin.com/video/1")
    wb = make_post(creator, url="https://weibo.com/1/AbC")
    _counters(xhs, views=5000, likes=300, saves=120, comments=40, shares=10)
    _counters(dy, views=7000, likes=600, saves=200)
    _counters(wb, views=3, likes=3)
    assert formula.recompute_all() == 3
    xhs.refresh_from_db()
    assert (xhs.interactions, xhs.interaction_rate, xhs.viral, xhs.media_value) == (700, Decimal("14.00"), False,
                                                                                     Decimal("950.00"))
    assert formula.recompute_all() == 0  # nothing changes, nothing is written
    PlatformRate.objects.filter(platform="xiaohongshu").update(cpm=Decimal("200"), cpe=Decimal("1"))
    PlatformRate.objects.create(platform="weibo", cpm=Decimal("10"), cpe=Decimal("0.25"))
    type(programme).objects.filter(pk=1).update(like_weight=Decimal("0.5"), viral_interactions=100)
    assert formula.recompute_all(platform="xiaohongshu") == 1
    xhs.refresh_from_db()
    # 150 + 240 + 120 + 40 = 550; 11.00 %; viral now (≥ 500 views, ≥ 100, ≥ 10 %); 5 × 200 + 550 × 1 = 1550
    assert (xhs.interactions, xhs.interaction_rate, xhs.viral, xhs.media_value) == (550, Decimal("11.00"), True,
                                                                                     Decimal("1550.00"))
    formula.recompute_all()
    for post in Post.objects.all():
        expected = formula.figures(platform=post.platform, views=post.views, likes=post.likes, saves=post.saves,
                                   comments=post.comments, shares=post.shares)
        assert formula.Figures(post.interactions, post.interaction_rate, post.viral, post.media_value) == expected
    wb.refresh_from_db()
    assert (wb.interactions, wb.interaction_rate, wb.media_value) == (2, Decimal("66.67"), Decimal("0.53"))


def test_explain_gives_the_current_numbers(programme, rates):
    text = formula.explain()
    assert "likes × 1 + saves × 2 + comments × 3 + shares × 4" in text
    assert "at least 500 views, 1000 weighted interactions and an interaction rate of 10%" in text
    assert "Xiaohongshu: CPM ¥120, CPE ¥0.5." in text
    assert "Weibo: no rate set, media value 0." in text
