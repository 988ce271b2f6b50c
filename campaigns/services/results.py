"""A campaign's results: its funnel (targeted, held out, suppressed by reason, sent, delivered,
clicked, converted, revenue) per store and per staff member, the clicks on each of its links, and
the holdout comparison that says what the campaign itself changed.

Attribution is last touch: a touch is a message delivered to the member (its `sent_at`) or a click
on one of a campaign's links; an order counts for the campaign whose touch is the member's latest
at or before the order, when the order comes within SIYU_CAMPAIGN_ATTRIBUTION_DAYS of that touch
(touch <= placed_at < touch + window). So no order counts for two campaigns. Amounts are net of
refunds, in the brand's first currency; an order refunded in full counts for nothing.

The holdout comparison counts every order (not only attributed ones) of the members sent the message
against those held out, over the same window from the campaign's start: the difference of their
conversion rates is the uplift, with a two-proportion z-test.

Every figure is one SQL statement over the campaign's deliveries (one for the funnel with all its
breakdowns, one for the comparison, one for the links), cut to the viewer's store for store roles."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.links import sql as links_sql
from campaigns.models import Campaign, Delivery
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from scrm import sql as scrm_sql
from scrm.errors import NotInScope
from scrm.scoping import access_for
from scrm.sql import fetchall

DELIVERY = Delivery._meta.db_table
CLICK = links_sql.CLICK
LINK = links_sql.LINK

MIN_ARM = 30  # members per group below which no comparison is worth making
MIN_EXPECTED = 5  # converted and not converted expected in each group (the normal approximation)
ALPHA = 0.05

VERDICTS = {
    "too_few": _("Not significant yet: too few members or conversions to tell"),
    "not_significant": _("Not significant yet: the difference may be chance"),
    "significant": lazy(lambda: gettext("Significant at the %(level)s level") % {"level": "95%"}, str)(),
}


def window_days() -> int:
    return settings.SIYU_CAMPAIGN_ATTRIBUTION_DAYS


@dataclass
class Figures:
    targeted: int = 0  # every member of the segment (a delivery row each)
    held_out: int = 0
    suppressed: int = 0
    waiting: int = 0  # pending or being sent
    failed: int = 0
    sent: int = 0  # handed to the channel (sent, or waiting for a staff member's confirmation)
    delivered: int = 0  # sent and confirmed: the member has it
    clicked: int = 0  # members who opened a link
    clicks: int = 0
    converted: int = 0  # members with an order attributed to the campaign
    orders: int = 0
    revenue: Decimal = Decimal(0)


@dataclass
class Group:
    id: int | None
    code: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class ReasonCount:
    state: str
    reason: str
    count: int


@dataclass(frozen=True)
class LinkFigures:
    code: str
    target_url: str
    clicks: int
    members: int


@dataclass(frozen=True)
class Arm:
    members: int
    converted: int
    revenue: Decimal

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.members if self.members else None

    @property
    def conversion_percent(self) -> float | None:
        return self.conversion_rate * 100 if self.members else None

    @property
    def revenue_per_member(self) -> Decimal | None:
        return (self.revenue / self.members).quantize(Decimal("0.01")) if self.members else None


@dataclass(frozen=True)
class Uplift:
    start: dt.datetime | None
    end: dt.datetime | None
    complete: bool  # the whole window has passed
    sent: Arm
    held_out: Arm
    conversion_difference: float | None  # sent's rate minus held out's (absolute)
    revenue_per_member_difference: Decimal | None
    z: float | None
    p_value: float | None
    verdict: str

    @property
    def difference_points(self) -> float | None:
        """The uplift in percentage points."""
        return self.conversion_difference * 100 if self.conversion_difference is not None else None

    @property
    def verdict_text(self) -> str:
        return str(VERDICTS[self.verdict])


@dataclass
class Results:
    campaign: Campaign
    window_days: int
    store_id: int | None  # the store the figures are cut to (a store role's), None for all
    funnel: Figures
    reasons: list[ReasonCount] = field(default_factory=list)
    by_store: list[Group] = field(default_factory=list)
    by_staff: list[Group] = field(default_factory=list)
    links: list[LinkFigures] = field(default_factory=list)
    uplift: Uplift | None = None
    # A large campaign's figures come from its summary (campaigns.services.figures): when it was
    # summed (None: not yet), and whether a refresh was asked for since.
    summarised: bool = False
    as_of: dt.datetime | None = None
    refreshing: bool = False

    @property
    def started(self) -> bool:
        return self.campaign.send_month is not None and self.campaign.started_at is not None


# --- SQL -------------------------------------------------------------------------------------------

_SCOPED_DELIVERIES = f"""
    SELECT d.member_id, d.state, d.reason, d.staff_id, d.sent_at, m.home_store_id
    FROM {DELIVERY} d JOIN {members_sql.MEMBER} m ON m.id = d.member_id
    WHERE d.campaign_id = %(campaign)s AND d.send_month = %(month)s
      AND (%(store)s::bigint IS NULL OR m.home_store_id = %(store)s::bigint)"""

_WINDOW = "%(days)s * interval '1 day'"

# The member's latest touch at or before the order `o` within the window, by any campaign: a message
# delivered (delivery_member_sent) or a click (click_member_time), each an index walk of one row.
LAST_TOUCH = f"""
    SELECT lt.campaign_id FROM (
        (SELECT x.campaign_id, x.sent_at AS at FROM {DELIVERY} x
         WHERE x.member_id = o.member_id AND x.state = 'sent'
           AND x.sent_at <= o.placed_at AND x.sent_at > o.placed_at - {_WINDOW}
         ORDER BY x.sent_at DESC, x.campaign_id DESC LIMIT 1)
        UNION ALL
        (SELECT k.campaign_id, k.clicked_at FROM {CLICK} k
         WHERE k.member_id = o.member_id
           AND k.clicked_at <= o.placed_at AND k.clicked_at > o.placed_at - {_WINDOW}
         ORDER BY k.clicked_at DESC, k.campaign_id DESC LIMIT 1)
    ) lt ORDER BY lt.at DESC, lt.campaign_id DESC LIMIT 1"""

NET = "(o.total_amount - o.refunded_amount)"
COUNTED_ORDER = f"{NET} > 0 AND o.currency = %(currency)s"

# GROUPING(store, staff, state, reason): 15 the whole campaign, 7 by store, 11 by staff, 12 by reason.
ALL, BY_STORE, BY_STAFF, BY_REASON = 15, 7, 11, 12

# The deliveries (cut to a store), their clicks, the orders that can follow them and those attributed
# to this campaign: the live funnel's parts, and the summary's (campaigns.services.figures).
FUNNEL_PARTS = f"""
d AS NOT MATERIALIZED ({_SCOPED_DELIVERIES}),
clicked AS NOT MATERIALIZED (
    SELECT k.member_id, count(*) AS clicks, min(k.clicked_at) AS first_click, max(k.clicked_at) AS last_click
    FROM {CLICK} k
    WHERE k.campaign_id = %(campaign)s AND k.member_id IS NOT NULL GROUP BY k.member_id
),
candidates AS MATERIALIZED (
    -- The orders that can follow one of this campaign's touches (from the member's first to the
    -- window after the last): only these are asked for their last touch.
    SELECT o.member_id, o.placed_at, {NET} AS net
    FROM d LEFT JOIN clicked c ON c.member_id = d.member_id
    JOIN {orders_sql.ORDER} o ON o.member_id = d.member_id
     AND o.placed_at >= least(d.sent_at, c.first_click)
     AND o.placed_at < greatest(d.sent_at, c.last_click) + {_WINDOW}
     AND o.placed_at <= %(now)s
    WHERE d.state = 'sent' AND {COUNTED_ORDER}
),
attributed AS (
    SELECT o.member_id, count(*) AS orders, sum(o.net) AS revenue
    FROM candidates o CROSS JOIN LATERAL ({LAST_TOUCH}) AS t
    WHERE t.campaign_id = %(campaign)s
    GROUP BY o.member_id
)"""

FUNNEL_SQL = f"""
WITH {FUNNEL_PARTS}
SELECT GROUPING(d.home_store_id, d.staff_id, d.state, d.reason), d.home_store_id, d.staff_id, d.state, d.reason,
       count(*),
       count(*) FILTER (WHERE d.state = 'held_out'),
       count(*) FILTER (WHERE d.state = 'suppressed'),
       count(*) FILTER (WHERE d.state IN ('pending', 'sending')),
       count(*) FILTER (WHERE d.state = 'failed'),
       count(*) FILTER (WHERE d.state IN ('sent', 'accepted')),
       count(*) FILTER (WHERE d.state = 'sent'),
       count(c.member_id), coalesce(sum(c.clicks), 0)::bigint,
       count(a.member_id), coalesce(sum(a.orders), 0)::bigint, coalesce(sum(a.revenue), 0)
FROM d
LEFT JOIN clicked c ON c.member_id = d.member_id
LEFT JOIN attributed a ON a.member_id = d.member_id
GROUP BY GROUPING SETS ((), (d.home_store_id), (d.staff_id), (d.state, d.reason))"""

# One pass over the campaign's sent and held-out deliveries beside the window's orders summed per
# member; the members table is read only to cut to a store (the condition folds away without one).
UPLIFT_SQL = f"""
SELECT d.state, count(*), count(b.member_id), coalesce(sum(b.revenue), 0)
FROM {DELIVERY} d
LEFT JOIN (
    SELECT o.member_id, sum({NET}) AS revenue FROM {orders_sql.ORDER} o
    WHERE o.placed_at >= %(start)s AND o.placed_at < %(end)s AND o.member_id IS NOT NULL AND {COUNTED_ORDER}
    GROUP BY o.member_id
) b ON b.member_id = d.member_id
WHERE d.campaign_id = %(campaign)s AND d.send_month = %(month)s AND d.state IN ('sent', 'held_out')
  AND (%(store)s::bigint IS NULL OR EXISTS (
      SELECT 1 FROM {members_sql.MEMBER} m WHERE m.id = d.member_id AND m.home_store_id = %(store)s::bigint))
GROUP BY d.state"""

LINKS_SQL = f"""
SELECT l.code, l.target_url, count(k.id), count(DISTINCT k.member_id)
FROM {LINK} l
LEFT JOIN {CLICK} k ON k.link_id = l.id AND (%(store)s::bigint IS NULL OR EXISTS (
    SELECT 1 FROM {members_sql.MEMBER} m WHERE m.id = k.member_id AND m.home_store_id = %(store)s::bigint))
WHERE l.campaign_id = %(campaign)s
GROUP BY l.id ORDER BY l.id"""


# --- figures ---------------------------------------------------------------------------------------


def _figures(row) -> Figures:
    return Figures(*row[:11], revenue=Decimal(row[11]))


def z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None, str]:
    """Two-proportion z-test of x1/n1 against x2/n2: (z, two-sided p, verdict). Too few members, or
    too few conversions (or non-conversions) expected in either group, gives no z: "too_few"."""
    if n1 < MIN_ARM or n2 < MIN_ARM:
        return None, None, "too_few"
    pooled = (x1 + x2) / (n1 + n2)
    if min(n * share for n in (n1, n2) for share in (pooled, 1 - pooled)) < MIN_EXPECTED:
        return None, None, "too_few"
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    p = math.erfc(abs(z) / math.sqrt(2))
    return z, p, "significant" if p < ALPHA else "not_significant"


def _uplift(campaign: Campaign, params: dict, now: dt.datetime) -> Uplift:
    start = campaign.started_at
    end = min(start + dt.timedelta(days=params["days"]), now)
    rows = {state: (n, x, Decimal(revenue)) for state, n, x, revenue in
            fetchall(UPLIFT_SQL, {**params, "start": start, "end": end})}
    return uplift_of(campaign, params, rows, end=end)


def uplift_of(campaign: Campaign, params: dict, rows: dict, *, end: dt.datetime) -> Uplift:
    """The holdout comparison from (members, converted, revenue) per arm ("sent", "held_out"),
    counted over the window's orders until `end`."""
    start = campaign.started_at
    full_end = start + dt.timedelta(days=params["days"])
    sent = Arm(*rows.get("sent", (0, 0, Decimal(0))))
    held = Arm(*rows.get("held_out", (0, 0, Decimal(0))))
    z, p, verdict = z_test(sent.converted, sent.members, held.converted, held.members)
    both = sent.members and held.members
    return Uplift(
        start=start, end=end, complete=end >= full_end, sent=sent, held_out=held,
        conversion_difference=sent.conversion_rate - held.conversion_rate if both else None,
        revenue_per_member_difference=sent.revenue_per_member - held.revenue_per_member if both else None,
        z=z, p_value=p, verdict=verdict,
    )


def _labels(store_ids: set, staff_ids: set) -> tuple[dict, dict]:
    stores = {pk: (code, name) for pk, code, name in fetchall(
        f"SELECT id, code, name FROM {scrm_sql.STORE} WHERE id = ANY(%s)", [sorted(store_ids)])} if store_ids else {}
    staff = {pk: (username, name or username) for pk, username, name in fetchall(
        f"SELECT id, username, display_name FROM {scrm_sql.USER} WHERE id = ANY(%s)", [sorted(staff_ids)])
    } if staff_ids else {}
    return stores, staff


def campaign_results(*, campaign: Campaign, actor, now: dt.datetime | None = None) -> Results:
    """The results of `campaign` as `actor` may see them: a store role's figures count only the
    members whose home store is theirs."""
    access = access_for(actor)
    if not access.allows_store(campaign.store_id):
        raise NotInScope()
    store_id = None if access.all_stores else access.store_id
    results = Results(campaign=campaign, window_days=window_days(), store_id=store_id, funnel=Figures())
    if not results.started:
        return results
    now = now or timezone.now()
    params = params_for(campaign, store_id=store_id, now=now)
    from campaigns.services import figures  # it builds on this module's SQL

    if figures.summarised(campaign):
        results.summarised = True
        run = figures.run_of(campaign)
        if run is not None and run.computed_at is not None:
            results.as_of = run.computed_at
            results.refreshing = run.requested_at is not None and run.requested_at > run.computed_at
            figures.fill_from_summary(results, campaign, params, run)
        return results
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's cost of the funnel passes the JIT threshold at a few hundred thousand
        # deliveries; compiling it cost more than it saved (200k: 1.6 s with JIT, 1.1 s without).
        cursor.execute("SET LOCAL jit = off")
        _fill(results, campaign, params, now)
    return results


def params_for(campaign: Campaign, *, store_id: int | None, now: dt.datetime) -> dict:
    """The figures' SQL parameters for `campaign`, cut to `store_id` (None: every store)."""
    return {"campaign": campaign.pk, "month": campaign.send_month, "store": store_id, "days": window_days(),
            "start": campaign.started_at, "now": now, "currency": settings.SIYU_CURRENCIES[0]}


def _fill(results: Results, campaign: Campaign, params: dict, now: dt.datetime) -> None:
    _fill_rows(results, fetchall(FUNNEL_SQL, params))
    results.links = [LinkFigures(*row) for row in fetchall(LINKS_SQL, params)]
    results.uplift = _uplift(campaign, params, now)


def _fill_rows(results: Results, rows) -> None:
    """The funnel, its reasons and its breakdowns by store and staff from FUNNEL_SQL's rows (or the
    summary's, which have the same shape)."""
    by_store, by_staff = [], []
    for row in rows:
        grouping, home_store, staff, state, reason, *numbers = row
        if grouping == ALL:
            results.funnel = _figures(numbers)
        elif grouping == BY_STORE:
            by_store.append((home_store, _figures(numbers)))
        elif grouping == BY_STAFF:
            by_staff.append((staff, _figures(numbers)))
        elif grouping == BY_REASON and reason:
            results.reasons.append(ReasonCount(state, reason, numbers[0]))
    results.reasons.sort(key=lambda r: (-r.count, r.state, r.reason))
    stores, staff = _labels({pk for pk, _ in by_store if pk}, {pk for pk, _ in by_staff if pk})
    unknown = ("", "")
    results.by_store = sorted(
        (Group(pk, *(stores.get(pk, unknown) if pk else unknown), figures=f) for pk, f in by_store),
        key=lambda g: (g.id is None, g.code),
    )
    results.by_staff = sorted(
        (Group(pk, *(staff.get(pk, unknown) if pk else unknown), figures=f) for pk, f in by_staff),
        key=lambda g: (g.id is None, g.name, g.code),
    )
