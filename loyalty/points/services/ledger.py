"""The primitives every change of points is built from: lock the members' balance rows, take
points from lots, move a balance, record an entry of the member's history.

Locking: every write to a member's points first locks that member's `MemberPoints` row (members in
id order), then touches their lots, then the reward row. Earning inserts new lots before taking the
row lock, which cannot deadlock because it never updates existing lots. The CHECK balance >= 0 on
`MemberPoints` is the last guard: a conditional UPDATE ... WHERE balance >= cost refuses an overspend
even if a path forgot the lock."""

from __future__ import annotations

from django.utils.translation import gettext as _

from loyalty.points import sql as points_sql
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import EntryKind, PointEntry
from members import sql as members_sql
from members.models import Member
from scrm import events
from scrm.actors import actor_label, actor_user
from scrm.errors import Conflict, NotInScope
from scrm.scoping import scope


def lock_balances(cursor, member_ids) -> dict[int, int]:
    """Create missing balance rows and lock them in member id order; {member_id: balance}."""
    ids = sorted(set(member_ids))
    cursor.execute(
        f"INSERT INTO {points_sql.MEMBER_POINTS} (member_id, balance, earned_total, redeemed_total, expired_total, "
        "updated_at) SELECT id, 0, 0, 0, 0, now() FROM unnest(%s::bigint[]) AS id ORDER BY id "
        "ON CONFLICT (member_id) DO NOTHING",
        [ids],
    )
    cursor.execute(
        f"SELECT member_id, balance FROM {points_sql.MEMBER_POINTS} WHERE member_id = ANY(%s) "
        "ORDER BY member_id FOR UPDATE",
        [ids],
    )
    return dict(cursor.fetchall())


def consume(cursor, member_id: int, amount: int, *, prefer_lot: int | None = None) -> list[list[int]]:
    """Take `amount` points from the member's lots, the preferred lot first, then the soonest to
    expire (oldest earned first among equals). The caller holds the member's balance lock and has
    checked the balance covers `amount`. Returns [[lot id, points taken], ...]."""
    if amount <= 0:
        return []
    cursor.execute(
        f"""
        WITH c AS (
            SELECT id, remaining,
                   sum(remaining) OVER (ORDER BY (id = %(prefer)s) DESC, expires_at ASC NULLS LAST, earned_at, id)
                       AS upto
            FROM {points_sql.POINT_LOT} WHERE member_id = %(member)s AND remaining > 0
        ), take AS (
            SELECT id, least(remaining, %(amount)s - (upto - remaining)) AS taken
            FROM c WHERE upto - remaining < %(amount)s
        )
        UPDATE {points_sql.POINT_LOT} l SET remaining = l.remaining - take.taken
        FROM take WHERE l.id = take.id
        RETURNING l.id, take.taken, l.expires_at, l.earned_at
        """,
        {"member": member_id, "amount": amount, "prefer": prefer_lot or 0},
    )
    rows = sorted(cursor.fetchall(), key=lambda r: (r[0] != prefer_lot, r[2] is None, r[2], r[3], r[0]))
    taken = sum(r[1] for r in rows)
    if taken != amount:  # the balance row and the lots disagree: never write a half-change
        raise Conflict(
            _("The member's points lots do not cover their balance; nothing was changed."),
            details={"points": [_("%(n)s of %(want)s points found in lots.") % {"n": taken, "want": amount}]},
        )
    return [[r[0], int(r[1])] for r in rows]


def restore(cursor, member_id: int, spent_lots, points: int, *, reason: str, now) -> list[list[int]]:
    """Give back `points` a charge took: into the lots it took them from (as recorded on its entries'
    `lots`), as far as they can hold them, and the rest as a new lot with `reason`. Returns the
    [lot id, points] pairs restored, for the refund's entry."""
    from loyalty.points.models import LotSource, PointLot, PointsPolicy

    taken = [pair for lots in spent_lots for pair in lots]
    restored: list[list[int]] = []
    if taken:
        cursor.execute(
            f"""WITH back AS (SELECT * FROM unnest(%s::bigint[], %s::int[]) AS b(lot_id, points))
            UPDATE {points_sql.POINT_LOT} l SET remaining = l.remaining + back.points FROM back
            WHERE l.id = back.lot_id AND l.member_id = %s AND l.remaining + back.points <= l.points
            RETURNING l.id, back.points""",
            [[p[0] for p in taken], [p[1] for p in taken], member_id])
        restored = [[r[0], r[1]] for r in cursor.fetchall()]
    missing = points - sum(p for _lot, p in restored)
    if missing > 0:
        lot = PointLot.objects.create(
            member_id=member_id, source=LotSource.REDEMPTION_CANCELLED, points=missing, remaining=missing,
            reason=reason, earned_at=now, expires_at=PointsPolicy.current().expires_at(now))
        restored.append([lot.pk, missing])
    return restored


def change_balance(cursor, member_id: int, delta: int, **totals) -> int:
    """Apply `delta` to a locked balance row (refusing to go below zero) and bump lifetime totals."""
    sets = ", ".join(f"{name} = {name} + %({name})s" for name in totals)
    cursor.execute(
        f"UPDATE {points_sql.MEMBER_POINTS} SET balance = balance + %(delta)s, updated_at = now()"
        f"{', ' + sets if sets else ''} "
        "WHERE member_id = %(member)s AND balance + %(delta)s >= 0 RETURNING balance",
        {"member": member_id, "delta": delta, **totals},
    )
    row = cursor.fetchone()
    if row is None:
        raise InsufficientPoints(details={"points": [_("The balance cannot cover %(n)s points.") % {"n": -delta}]})
    return row[0]


POINTS_EARNED, POINTS_REDEEMED, POINTS_EXPIRED = "points.earned", "points.redeemed", "points.expired"

# An entry's event: its points, the balance after, why (the entry's reason code, else its kind), the
# kind itself (earn, adjust, clawback, transfer_in… tell a top-up from an order's points) and the
# order or redemption it belongs to.
_ENTRY_EVENT_SELECT = f"""
    SELECT e.member_id, m.home_store_id, jsonb_strip_nulls(jsonb_build_object(
        'points', abs(e.delta), 'balance', e.balance_after,
        'reason', coalesce(nullif(e.reason_code, ''), e.kind), 'kind', e.kind,
        'order', CASE WHEN e.order_id IS NOT NULL THEN jsonb_build_object('id', e.order_id) END,
        'redemption', CASE WHEN e.redemption_id IS NOT NULL THEN jsonb_build_object('id', e.redemption_id) END))
    FROM {points_sql.POINT_ENTRY} e JOIN {members_sql.MEMBER} m ON m.id = e.member_id
    WHERE e.id = ANY(%s::bigint[]) ORDER BY e.id"""


def event_of_entry(kind: str, delta: int) -> str | None:
    """The event an entry of the ledger is: expired, or points added (earned) or taken (redeemed);
    an entry that moved no points is none."""
    if kind == EntryKind.EXPIRE:
        return POINTS_EXPIRED if delta else None
    return POINTS_EARNED if delta > 0 else POINTS_REDEEMED if delta < 0 else None


def emit_entries(code: str, entry_ids) -> int:
    """Record `code` for each of these entries of the ledger, in one INSERT ... SELECT."""
    ids = list(entry_ids)
    return events.emit_sql(code, _ENTRY_EVENT_SELECT, [ids]) if ids else 0


def record_entry(**fields) -> PointEntry:
    actor = fields.pop("actor", None)
    entry = PointEntry.objects.create(actor=actor_user(actor), actor_label=actor_label(actor), **fields)
    code = event_of_entry(entry.kind, entry.delta)
    if code:
        emit_entries(code, [entry.pk])
    return entry


def member_for(actor, member_id) -> Member:
    """A live member the actor may reach, or a 404-style error naming the field."""
    member = scope(Member.live.all(), actor).filter(pk=member_id).first() if str(member_id).isdigit() else None
    if member is None:
        raise NotInScope(details={"member": [_("Unknown member %(id)s.") % {"id": member_id}]})
    return member
