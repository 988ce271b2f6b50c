"""Who to invite into the programme: members ranked by a score built from what they already do.

Four components, each over the member's own data:

- spend: their net order total (paid less refunded) over the last 12 months (loyalty orders);
- engagement: campaign link clicks and event check-ins over the last 90 days;
- posts already seen: members they brought in over the last 12 months (the referral engine's
  referrals: someone who already recommends the brand is a creator in all but name);
- community activity: their open community memberships plus event check-ins over 12 months.

Each component is normalised to 0-100 as a percentile among the members who have any of it
(`cume_dist`: the top one is 100, a member with none is 0), so a yuan and a click weigh alike.
The total is the weighted mean of the four with the programme's score_* weights:

    total = (w_spend × spend + w_engagement × engagement + w_posts × posts + w_community × community)
            / (w_spend + w_engagement + w_posts + w_community)

Members who are creators (and have not left), who have an application waiting, and merged or
erased profiles are left out; the ranking is among the members of the actor's stores (one store's
when `store_id` is given). One SQL statement; only members with some activity are ranked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.links.sql import CLICK
from communities.models import CheckIn, CommunityMembership
from koc.models import Application, Creator, Programme
from loyalty.orders.sql import ORDER
from loyalty.referrals.sql import REFERRAL
from members.sql import MEMBER, live
from scrm.errors import InvalidInput
from scrm.models import Store
from scrm.scoping import access_for

MAX_LIMIT = 500
CHECKIN = CheckIn._meta.db_table
MEMBERSHIP = CommunityMembership._meta.db_table
CREATOR = Creator._meta.db_table
APPLICATION = Application._meta.db_table


@dataclass(frozen=True)
class Candidate:
    member_id: int
    name: str
    store_id: int | None
    store: str
    store_code: str
    spend: Decimal
    engagement: Decimal
    posts: Decimal
    community: Decimal
    total: Decimal
    spend_amount: Decimal
    clicks_and_checkins: int
    referrals: int
    community_count: int


SQL = f"""
WITH raw AS (
    SELECT id, SUM(spend) AS spend, SUM(engagement) AS engagement, SUM(posts) AS posts,
           SUM(community) AS community
    FROM (
        SELECT o.member_id AS id, SUM(o.total_amount - o.refunded_amount) AS spend, 0 AS engagement, 0 AS posts,
               0 AS community
        FROM {ORDER} o WHERE o.member_id IS NOT NULL AND o.placed_at >= %(year)s GROUP BY o.member_id
        UNION ALL
        SELECT c.member_id, 0, COUNT(*), 0, 0 FROM {CLICK} c
        WHERE c.member_id IS NOT NULL AND c.clicked_at >= %(quarter)s GROUP BY c.member_id
        UNION ALL
        SELECT k.member_id, 0, COUNT(*) FILTER (WHERE k.at >= %(quarter)s), 0, COUNT(*) FROM {CHECKIN} k
        WHERE k.at >= %(year)s GROUP BY k.member_id
        UNION ALL
        SELECT r.referrer_id, 0, 0, COUNT(*), 0 FROM {REFERRAL} r WHERE r.created_at >= %(year)s
        GROUP BY r.referrer_id
        UNION ALL
        SELECT cm.member_id, 0, 0, 0, COUNT(*) FROM {MEMBERSHIP} cm WHERE cm.left_at IS NULL GROUP BY cm.member_id
    ) parts
    GROUP BY id
),
pool AS (
    SELECT raw.*, m.name, m.home_store_id
    FROM raw JOIN {MEMBER} m ON m.id = raw.id
    WHERE {live("m")}
      AND (%(all_stores)s OR m.home_store_id = %(store)s)
      AND NOT EXISTS (SELECT 1 FROM {CREATOR} cr WHERE cr.member_id = m.id AND cr.status <> 'left')
      AND NOT EXISTS (SELECT 1 FROM {APPLICATION} a WHERE a.member_id = m.id AND a.state = 'pending')
),
ranked AS (
    SELECT pool.*,
           CASE WHEN spend > 0 THEN 100 * cume_dist() OVER (PARTITION BY spend > 0 ORDER BY spend)
                ELSE 0 END AS n_spend,
           CASE WHEN engagement > 0 THEN 100 * cume_dist() OVER (PARTITION BY engagement > 0 ORDER BY engagement)
                ELSE 0 END AS n_engagement,
           CASE WHEN posts > 0 THEN 100 * cume_dist() OVER (PARTITION BY posts > 0 ORDER BY posts)
                ELSE 0 END AS n_posts,
           CASE WHEN community > 0 THEN 100 * cume_dist() OVER (PARTITION BY community > 0 ORDER BY community)
                ELSE 0 END AS n_community
    FROM pool
)
SELECT id, name, home_store_id, spend, engagement, posts, community,
       ROUND(n_spend::numeric, 2), ROUND(n_engagement::numeric, 2), ROUND(n_posts::numeric, 2),
       ROUND(n_community::numeric, 2),
       ROUND(CASE WHEN %(weights)s = 0 THEN 0 ELSE
           (%(w_spend)s * n_spend::numeric + %(w_engagement)s * n_engagement::numeric
            + %(w_posts)s * n_posts::numeric + %(w_community)s * n_community::numeric) / %(weights)s END, 2) AS total
FROM ranked
ORDER BY total DESC, id
LIMIT %(limit)s
"""


def candidates(*, actor, store_id=None, limit=100, now: dt.datetime | None = None) -> list[Candidate]:
    """The best `limit` (at most 500) candidates among the actor's members, best first (see the
    module docstring for the score)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(details={"limit": [_("A whole number from 1 to %(max)d.") % {"max": MAX_LIMIT}]})
    access = access_for(actor).narrowed_to(store_id)
    if not access.reaches_any:
        return []
    programme = Programme.current()
    now = now or timezone.now()
    weights = {"w_spend": programme.score_spend_weight, "w_engagement": programme.score_engagement_weight,
               "w_posts": programme.score_posts_weight, "w_community": programme.score_community_weight}
    params = {"year": now - dt.timedelta(days=365), "quarter": now - dt.timedelta(days=90),
              "all_stores": access.all_stores, "store": access.store_id, "limit": limit,
              "weights": sum(weights.values()), **weights}
    with connection.cursor() as cursor:
        cursor.execute(SQL, params)
        rows = cursor.fetchall()
    stores = {pk: (code, name) for pk, code, name in
              Store.objects.filter(pk__in={row[2] for row in rows}).values_list("pk", "code", "name")}
    return [
        Candidate(member_id=row[0], name=row[1], store_id=row[2], store=stores.get(row[2], ("", ""))[1],
                  store_code=stores.get(row[2], ("", ""))[0],
                  spend_amount=row[3], clicks_and_checkins=int(row[4]), referrals=int(row[5]),
                  community_count=int(row[6]), spend=row[7], engagement=row[8], posts=row[9], community=row[10],
                  total=row[11])
        for row in rows
    ]
