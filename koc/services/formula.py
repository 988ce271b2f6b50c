"""The programme's published media-value formula, in one place: for one post in Python (when a
snapshot is recorded) and for every post in one UPDATE (when the weights or a platform's rate
change), the two written to give the same numbers.

- weighted interactions = likes × like weight + saves × save weight + comments × comment weight
  + shares × share weight (the programme's weights), rounded to a whole number (half up);
- interaction rate = weighted interactions / views × 100, to two decimals (0 without views);
- viral = views ≥ the programme's minimum views (and at least 1: a post nobody saw is never
  viral), weighted interactions ≥ its bar and interaction rate ≥ its bar;
- media value = views / 1000 × the platform's CPM + weighted interactions × its CPE, in yuan to
  two decimals (0 when the platform has no rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils.translation import gettext as _

from koc.models import Platform, PlatformRate, Post, Programme

CENT = Decimal("0.01")
MAX_RATE = Decimal("9999999.99")  # Post.interaction_rate's digits: a post with 1 view and 10⁸ interactions
MAX_VALUE = Decimal("999999999999.99")  # Post.media_value's digits
POST = Post._meta.db_table
PROGRAMME = Programme._meta.db_table
RATE = PlatformRate._meta.db_table
COUNTERS = ("views", "likes", "saves", "comments", "shares")


@dataclass(frozen=True)
class Figures:
    interactions: int
    interaction_rate: Decimal
    viral: bool
    media_value: Decimal


def interactions(*, likes: int, saves: int, comments: int, shares: int, programme: Programme) -> int:
    weighted = (likes * programme.like_weight + saves * programme.save_weight
                + comments * programme.comment_weight + shares * programme.share_weight)
    return int(Decimal(weighted).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def interaction_rate(*, interactions: int, views: int) -> Decimal:
    if not views:
        return Decimal("0.00")
    rate = (Decimal(interactions) * 100 / Decimal(views)).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(rate, MAX_RATE)


def is_viral(*, views: int, interactions: int, rate: Decimal, programme: Programme) -> bool:
    return (views >= max(programme.viral_min_views, 1) and interactions >= programme.viral_interactions
            and rate >= programme.viral_rate)


def media_value(*, views: int, interactions: int, rate: PlatformRate | None) -> Decimal:
    if rate is None:
        return Decimal("0.00")
    value = (Decimal(views) / 1000 * rate.cpm + interactions * rate.cpe).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(value, MAX_VALUE)


def figures(*, platform: str, views: int, likes: int, saves: int, comments: int, shares: int,
            programme: Programme | None = None, rate: PlatformRate | None | bool = False) -> Figures:
    """What the formula makes of one post's counters (`rate=False`: read the platform's rate)."""
    programme = programme or Programme.current()
    if rate is False:
        rate = PlatformRate.objects.filter(platform=platform).first()
    weighted = interactions(likes=likes, saves=saves, comments=comments, shares=shares, programme=programme)
    pct = interaction_rate(interactions=weighted, views=views)
    return Figures(
        interactions=weighted, interaction_rate=pct,
        viral=is_viral(views=views, interactions=weighted, rate=pct, programme=programme),
        media_value=media_value(views=views, interactions=weighted, rate=rate),
    )


def apply(post: Post, *, programme: Programme | None = None, rate: PlatformRate | None | bool = False) -> Post:
    """Set `post`'s derived fields from its counters (not saved)."""
    result = figures(platform=post.platform, programme=programme, rate=rate,
                     **{name: getattr(post, name) for name in COUNTERS})
    post.interactions = result.interactions
    post.interaction_rate = result.interaction_rate
    post.viral = result.viral
    post.media_value = result.media_value
    return post


# The same formula over every post (or one platform's) in one statement; only rows whose figures
# change are written.
RECOMPUTE_SQL = f"""
WITH figures AS (
    SELECT w.id, w.i AS interactions,
           CASE WHEN w.views > 0 THEN LEAST(ROUND(w.i::numeric * 100 / w.views, 2), {MAX_RATE}) ELSE 0 END AS rate,
           CASE WHEN w.cpm IS NULL THEN 0
                ELSE LEAST(ROUND(w.views::numeric / 1000 * w.cpm + w.i * w.cpe, 2), {MAX_VALUE}) END AS value,
           w.views, w.min_views, w.viral_interactions, w.viral_rate
    FROM (
        SELECT p.id, p.views,
               ROUND(p.likes * g.like_weight + p.saves * g.save_weight + p.comments * g.comment_weight
                     + p.shares * g.share_weight)::bigint AS i,
               r.cpm, r.cpe, GREATEST(g.viral_min_views, 1) AS min_views, g.viral_interactions, g.viral_rate
        FROM {POST} p
        CROSS JOIN {PROGRAMME} g
        LEFT JOIN {RATE} r ON r.platform = p.platform
        WHERE g.id = 1 AND (%(platform)s::text IS NULL OR p.platform = %(platform)s::text)
    ) w
)
UPDATE {POST} p
SET interactions = f.interactions,
    interaction_rate = f.rate,
    viral = (f.views >= f.min_views AND f.interactions >= f.viral_interactions AND f.rate >= f.viral_rate),
    media_value = f.value
FROM figures f
WHERE p.id = f.id
  AND (p.interactions, p.interaction_rate, p.media_value, p.viral)
      IS DISTINCT FROM (f.interactions, f.rate, f.value,
                        (f.views >= f.min_views AND f.interactions >= f.viral_interactions AND f.rate >= f.viral_rate))
"""


def recompute_all(*, platform: str | None = None) -> int:
    """Recompute every post's figures (or one platform's, after its rate changed) from its counters
    with the current weights and rates; returns how many posts changed."""
    Programme.current()
    with connection.cursor() as cursor:
        cursor.execute(RECOMPUTE_SQL, {"platform": platform})
        return cursor.rowcount


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def explain(*, programme: Programme | None = None) -> str:
    """The formula with the current numbers, in words, for the screens."""
    programme = programme or Programme.current()
    rates = {rate.platform: rate for rate in PlatformRate.objects.all()}
    lines = [
        _("Weighted interactions = likes × %(like)s + saves × %(save)s + comments × %(comment)s + shares × "
          "%(share)s (rounded to a whole number).") % {
            "like": _number(programme.like_weight), "save": _number(programme.save_weight),
            "comment": _number(programme.comment_weight), "share": _number(programme.share_weight)},
        _("Interaction rate = weighted interactions ÷ views × 100 (0 without views)."),
        _("A post is viral with at least %(views)s views, %(interactions)s weighted interactions and an "
          "interaction rate of %(rate)s%%.") % {
            "views": max(programme.viral_min_views, 1), "interactions": programme.viral_interactions,
            "rate": _number(programme.viral_rate)},
        _("Media value = views ÷ 1000 × the platform's CPM + weighted interactions × its CPE (yuan):"),
    ]
    for platform in Platform:
        rate = rates.get(platform.value)
        if rate is None:
            lines.append(_("%(platform)s: no rate set, media value 0.") % {"platform": platform.label})
        else:
            lines.append(_("%(platform)s: CPM ¥%(cpm)s, CPE ¥%(cpe)s.") % {
                "platform": platform.label, "cpm": _number(rate.cpm), "cpe": _number(rate.cpe)})
    return "\n".join(str(line) for line in lines)
