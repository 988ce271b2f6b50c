"""Member respect, decided in the transaction that claims deliveries: frequency caps across every
campaign and channel, counted in calendar days in settings.TIME_ZONE (today; the 7 days ending
today; the 30 days ending today), and quiet hours, which defer a send to the end of the window.

Each member's count of today (MemberSendDay) is taken and locked in member-id order before the caps
are decided, so two ticks claiming for two campaigns cannot both take a member's last slot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from campaigns.models import MemberSendDay, SendPolicy

SEND_DAY = MemberSendDay._meta.db_table
WEEK_DAYS, MONTH_DAYS = 7, 30


def policy() -> SendPolicy:
    from campaigns.services.policy import current

    return current()


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def quiet_until(pol: SendPolicy, now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet window `now` is in (aware), or None outside quiet hours. A window may
    run past midnight (22:00 to 08:00)."""
    start, end = pol.quiet_start, pol.quiet_end
    if start is None or end is None or start == end:
        return None
    local = timezone.localtime(now)
    t = local.time()
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:
        inside = t >= start or t < end
        end_day = local.date() + dt.timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return timezone.make_aware(dt.datetime.combine(end_day, end), timezone.get_current_timezone())


@dataclass
class Allowance:
    allowed: list[int]  # indexes into the candidates, in order
    refused: list[int]


def take_slots(member_ids: list[int], *, pol: SendPolicy, now: dt.datetime) -> Allowance:
    """Inside the claiming transaction: which candidates (member ids, one per delivery, a member may
    repeat) fit under the caps; their sends are counted at once (released by `release` when a send
    does not happen).

    One statement takes every candidate's slot for today (locking today's rows in member-id order)
    and reads the other days of the week and month beside it; the few refused are given back after.
    (Lock, read, then count was four statements, a sixth of a 2,000-delivery claim's time.)"""
    today = local_day(now)
    wanted: dict[int, int] = {}
    for member_id in member_ids:
        wanted[member_id] = wanted.get(member_id, 0) + 1
    if not wanted:
        return Allowance([], [])
    ids, ns = zip(*sorted(wanted.items()), strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH taken AS (INSERT INTO {SEND_DAY} AS s (member_id, day, count) "
            "SELECT u.id, %(today)s, u.n FROM unnest(%(ids)s::bigint[], %(ns)s::int[]) AS u(id, n) ORDER BY u.id "
            "ON CONFLICT (member_id, day) DO UPDATE SET count = s.count + excluded.count "
            "RETURNING s.member_id, s.count) "
            "SELECT t.member_id, t.count, coalesce(sum(o.count) FILTER (WHERE o.day > %(week)s), 0), "
            f"coalesce(sum(o.count), 0) FROM taken t LEFT JOIN {SEND_DAY} o ON o.member_id = t.member_id "
            "AND o.day > %(month)s AND o.day < %(today)s GROUP BY t.member_id, t.count",
            {"today": today, "ids": list(ids), "ns": list(ns), "week": today - dt.timedelta(days=WEEK_DAYS),
             "month": today - dt.timedelta(days=MONTH_DAYS)},
        )
        counts = {}  # before these candidates: [today, the 7 days ending today, the 30 days ending today]
        for member_id, after, week_before, month_before in cursor.fetchall():
            before = int(after) - wanted[member_id]
            counts[member_id] = [before, before + int(week_before), before + int(month_before)]
        caps = [pol.daily_cap, pol.weekly_cap, pol.monthly_cap]
        allowed, refused, given_back = [], [], {}
        for index, member_id in enumerate(member_ids):
            current = counts[member_id]
            if any(cap and used >= cap for cap, used in zip(caps, current, strict=True)):
                refused.append(index)
                given_back[member_id] = given_back.get(member_id, 0) + 1
                continue
            counts[member_id] = [used + 1 for used in current]
            allowed.append(index)
        if given_back:
            back_ids, back_ns = zip(*sorted(given_back.items()), strict=True)
            cursor.execute(
                f"UPDATE {SEND_DAY} s SET count = s.count - u.n FROM unnest(%s::bigint[], %s::int[]) AS u(id, n) "
                "WHERE s.member_id = u.id AND s.day = %s",
                [list(back_ids), list(back_ns), today],
            )
    return Allowance(allowed, refused)


def release(claims: list[tuple[int, dt.datetime]]) -> None:
    """Give back the slots of sends that did not happen: (member id, claimed at) each."""
    if not claims:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SEND_DAY} s SET count = greatest(s.count - u.n, 0) "
            "FROM (SELECT id, day, count(*) AS n FROM unnest(%s::bigint[], %s::date[]) AS x(id, day) "
            "GROUP BY id, day) AS u WHERE s.member_id = u.id AND s.day = u.day",
            [[member_id for member_id, _at in claims], [local_day(at) for _id, at in claims]],
        )


def merge_send_days(survivor_id: int, duplicate_id: int) -> int:
    """A merged duplicate's sends count toward the survivor's caps: its day rows are added to the
    survivor's (members.services.merge handler)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {SEND_DAY} WHERE member_id = %s RETURNING day, count) "
            f"INSERT INTO {SEND_DAY} (member_id, day, count) SELECT %s, day, count FROM gone "
            f"ON CONFLICT (member_id, day) DO UPDATE SET count = {SEND_DAY}.count + excluded.count",
            [duplicate_id, survivor_id],
        )
        return cursor.rowcount
