"""What a ladder can qualify members by. Net spend is built in; the points app registers "points"
from its AppConfig.ready():

    from loyalty.tiers import bases
    bases.register_basis("points", _("Points"), sql=lambda *, for_members: "SELECT member_id, sum(...) ...")

`sql(for_members=...)` returns one SELECT of `(member_id, value)`, at most one row per member, over
the window: it may use the parameters `%(since)s` and `%(until)s` (timestamps), `%(currency)s`
(the reporting currency) and, when `for_members` is true, `%(member_ids)s` (a bigint[]) to limit
itself to those members (it should then use an index on member_id).

`changed_sql()`, when a basis offers it, returns one SELECT of `member_id` (repeats allowed): the
members whose value can differ between the previous run and this one, from `%(prev_since)s` /
`%(prev_until)s` (the previous run's window), `%(since)s` / `%(until)s` and `%(cutoff)s` (rows
changed since then). With it the nightly run reads only those members; without it, everyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from loyalty.orders import sql as orders_sql


@dataclass(frozen=True)
class Basis:
    key: str
    label: object
    sql: Callable[..., str]
    changed_sql: Callable[[], str] | None = None


_BASES: dict[str, Basis] = {}


def register_basis(key: str, label, *, sql: Callable[..., str], changed_sql: Callable[[], str] | None = None) -> None:
    _BASES[key] = Basis(key=key, label=label, sql=sql, changed_sql=changed_sql)


def get_basis(key: str) -> Basis | None:
    return _BASES.get(key)


def available() -> list[Basis]:
    return list(_BASES.values())


def _spend_sql(*, for_members: bool) -> str:
    # Net of refunds, in the reporting currency (thresholds are written in it), by placed_at; the
    # member filter lets the (member_id, placed_at) index answer a prompt recalculation.
    members = "AND o.member_id = ANY(%(member_ids)s) " if for_members else ""
    return (
        f"SELECT o.member_id, sum(o.total_amount - o.refunded_amount) AS value FROM {orders_sql.ORDER} o "
        "WHERE o.member_id IS NOT NULL AND o.placed_at >= %(since)s AND o.placed_at < %(until)s "
        f"AND o.currency = %(currency)s {members}GROUP BY o.member_id"
    )


def _spend_changed_sql() -> str:
    # Orders created, refunded or moved to another member since the cut-off (every orders writer
    # sets updated_at; a merge moves the duplicate's orders to the survivor the same way), and
    # orders whose placed_at lies between the two windows' starts or ends (they left or entered):
    # three range scans, on order_updated and order_placed.
    return (
        f"SELECT o.member_id FROM {orders_sql.ORDER} o WHERE o.updated_at >= %(cutoff)s AND o.member_id IS NOT NULL "
        f"UNION ALL SELECT o.member_id FROM {orders_sql.ORDER} o WHERE o.placed_at >= %(prev_since)s "
        "AND o.placed_at < %(since)s AND o.member_id IS NOT NULL "
        f"UNION ALL SELECT o.member_id FROM {orders_sql.ORDER} o WHERE o.placed_at >= %(prev_until)s "
        "AND o.placed_at < %(until)s AND o.member_id IS NOT NULL"
    )


register_basis("spend", _("Net spend"), sql=_spend_sql, changed_sql=_spend_changed_sql)
