"""Expiry of lots whose date has passed: a batch of members per transaction, one entry per member."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.points import sql as points_sql
from loyalty.points.services.ledger import POINTS_EXPIRED, emit_entries

EXPIRY_BATCH_MEMBERS = 5_000


def expire_locked(cursor, member_ids: list[int], now) -> int:
    """Expire due lots of members whose balance rows the caller has locked; one entry per member."""
    cursor.execute(
        f"""
        WITH due AS (
            SELECT id, member_id, remaining FROM {points_sql.POINT_LOT}
            WHERE member_id = ANY(%(members)s) AND remaining > 0 AND expires_at <= %(now)s
        ), upd AS (
            UPDATE {points_sql.POINT_LOT} l SET remaining = 0, expired = l.expired + due.remaining
            FROM due WHERE l.id = due.id
            RETURNING l.id, l.member_id, due.remaining AS taken, l.expires_at
        ), tot AS (
            SELECT member_id, sum(taken) AS points, count(*) AS lots, max(expires_at) AS last_due,
                   jsonb_agg(jsonb_build_array(id, taken) ORDER BY id) AS lot_list
            FROM upd GROUP BY member_id
        ), bal AS (
            UPDATE {points_sql.MEMBER_POINTS} mp SET balance = mp.balance - tot.points,
                expired_total = mp.expired_total + tot.points, updated_at = now()
            FROM tot WHERE mp.member_id = tot.member_id
            RETURNING mp.member_id, mp.balance
        )
        INSERT INTO {points_sql.POINT_ENTRY} (member_id, kind, delta, balance_after, unrecovered, order_id,
                                              redemption_id, lots, explanation, reason_code, reason_params,
                                              actor_label, created_at)
        SELECT tot.member_id, 'expire', -tot.points, bal.balance, 0, NULL, NULL, tot.lot_list,
               format(%(pattern)s, tot.points, tot.lots,
                      to_char((tot.last_due AT TIME ZONE %(tz)s) - interval '1 second', 'YYYY-MM-DD')),
               'expire',
               jsonb_build_object('points', tot.points, 'lots', tot.lots,
                                  'until', to_char((tot.last_due AT TIME ZONE %(tz)s) - interval '1 second',
                                                   'YYYY-MM-DD')),
               %(actor)s, %(now)s
        FROM tot JOIN bal ON bal.member_id = tot.member_id
        RETURNING id, delta
        """,
        {
            "members": member_ids,
            "now": now,
            "tz": settings.TIME_ZONE,
            # Placeholders: 1 points, 2 number of lots, 3 the last day the points were valid.
            "pattern": _("%1$s pts expired (%2$s lot(s), valid until %3$s)"),
            "actor": "points:expiry",  # shown in the reader's language (scrm.actors.SYSTEM_LABELS)
        },
    )
    rows = cursor.fetchall()
    emit_entries(POINTS_EXPIRED, [entry_id for entry_id, _delta in rows])  # one INSERT ... SELECT per batch
    return -sum(delta for _id, delta in rows)


def expire_due_points(*, now=None, batch_members: int = EXPIRY_BATCH_MEMBERS) -> int:
    """Expire every lot whose date has passed, a batch of members per transaction. Returns points expired."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT member_id FROM {points_sql.POINT_LOT} WHERE remaining > 0 AND expires_at <= %s "
                "ORDER BY member_id LIMIT %s",
                [now, batch_members],
            )
            member_ids = [row[0] for row in cursor.fetchall()]
            if not member_ids:
                return total
            # Skip members another transaction holds (a redemption at the till); the next run takes them.
            cursor.execute(
                f"SELECT member_id FROM {points_sql.MEMBER_POINTS} WHERE member_id = ANY(%s) ORDER BY member_id "
                "FOR UPDATE SKIP LOCKED",
                [member_ids],
            )
            locked = [row[0] for row in cursor.fetchall()]
            total += expire_locked(cursor, locked, now)
        if len(member_ids) < batch_members or not locked:
            return total
