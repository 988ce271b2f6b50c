"""Member respect, decided in the transaction that claims deliveries: frequency caps across every
campaign and channel, counted in calendar days in settings.TIME_ZONE (today; the 7 days ending
today; the 30 days ending today), and quiet hours, which defer a send to the end of the window.

While a day falls in a season (campaigns.services.seasons), the season's caps replace the policy's.
With the policy's WeCom limit on, a WeCom mass message must also fit under WeCom's own limit per
customer, counted over WeCom sends only (MemberSendDay.wecom): a customer WeCom would refuse is
suppressed as wecom_limit instead of spending a staff member's task on them (WeCom's "already
received" answer stays the final word for what Siyu cannot count, such as mass messages sent
outside it).

Each member's count of today (MemberSendDay) is taken and locked in member-id order before the caps
are decided, so two ticks claiming for two campaigns cannot both take a member's last slot.

A transactional campaign (a service notice, campaigns.models.Purpose) is neither held back by the
caps nor counted toward them: its claim takes no slot and gives none back, so a member's marketing
sends after it are judged as if it had not been sent. It needs no marketing consent either; an
explicit "no" on its channel or on every channel still stops it (`withdrawn`), as do erasure, a
merge and the minors' rule (a guardian's consent is about processing a child's data, not about
marketing). On WeCom it still counts toward WeCom's own per-customer limit, which WeCom applies to
every mass message whatever its purpose."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from campaigns.models import DeliveryReason, MemberSendDay, Purpose, Season, SendPolicy, WecomLimit
from members import sql as members_sql
from members.models import ConsentPurpose

SEND_DAY = MemberSendDay._meta.db_table
WEEK_DAYS, MONTH_DAYS = 7, 30
WECOM_CHANNEL = "wecom"  # the customer mass-message channel WeCom's per-customer limit applies to


def policy() -> SendPolicy:
    """The send policy with the seasons beside it (`pol.seasons`), read once per tick."""
    from campaigns.services.policy import current

    pol = current()
    pol.seasons = list(Season.objects.all())
    return pol


def caps_on(pol: SendPolicy, day: dt.date) -> tuple[int, int, int]:
    """(per day, per 7 days, per 30 days) on `day`: the season's caps in a season, else the policy's."""
    from campaigns.services.seasons import season_on

    season = season_on(day, getattr(pol, "seasons", None))
    source = season or pol
    return source.daily_cap, source.weekly_cap, source.monthly_cap


def wecom_caps(pol: SendPolicy, day: dt.date) -> tuple[int, int, int]:
    """WeCom's limit as (per day, per 7 days ending `day`, per calendar month), 0 for none. A week is
    counted over the 7 days ending today, which never lets more through than a calendar week."""
    mode = pol.wecom_limit
    if mode == WecomLimit.DAY_1:
        return 1, 0, 0
    if mode == WecomLimit.WEEK_7:
        return 0, 7, 0
    if mode == WecomLimit.MONTH_DAYS:
        return 0, 0, calendar.monthrange(day.year, day.month)[1]
    if mode == WecomLimit.MONTH_4:
        return 0, 0, 4
    return 0, 0, 0


def counts_for_wecom(channel_code: str) -> bool:
    return channel_code == WECOM_CHANNEL


def counts_toward_caps(purpose: str) -> bool:
    """Whether a campaign of `purpose` is held to and counted toward the frequency caps (a
    transactional notice is not)."""
    return purpose != Purpose.TRANSACTIONAL


def local_day(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def withdrawn(member_ids: list[int], *, consent_channel: str, now: dt.datetime,
              needs_consent: bool = True) -> dict[int, str]:
    """Members of a claim who may no longer be messaged since the fan-out decided they could (erased,
    merged, opted out or consent withdrawn for this channel, or now a minor without a guardian's
    consent, as the fan-out's rules read today), with the reason: the claim suppresses them, so an
    answer given while a large send is under way holds for its remaining deliveries. Without
    `needs_consent` (a transactional notice) a member who never answered is not withdrawn; one who
    said no is."""
    from campaigns.services.fanout import _minor_cutoff

    if not member_ids:
        return {}
    R = DeliveryReason
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id, CASE WHEN m.erased_at IS NOT NULL THEN '{R.ERASED.value}' "
            f"WHEN NOT ({members_sql.live('m')}) THEN '{R.MERGED.value}' "
            f"WHEN coalesce(mc.granted, ma.granted) = false THEN '{R.OPTED_OUT.value}' "
            f"WHEN %(needs_consent)s AND coalesce(mc.granted, ma.granted) IS NULL THEN '{R.NO_CONSENT.value}' "
            f"WHEN m.birthday > %(cutoff)s AND NOT EXISTS (SELECT 1 FROM {members_sql.CONSENT} g "
            f"WHERE g.member_id = m.id AND g.purpose = %(guardian)s AND g.granted) THEN '{R.MINOR.value}' END "
            f"FROM {members_sql.MEMBER} m "
            f"LEFT JOIN {members_sql.CONSENT} mc ON mc.member_id = m.id AND mc.purpose = %(marketing)s "
            "AND mc.channel = %(channel)s "
            f"LEFT JOIN {members_sql.CONSENT} ma ON ma.member_id = m.id AND ma.purpose = %(marketing)s "
            "AND ma.channel = 'all' WHERE m.id = ANY(%(ids)s)",
            {"ids": list(member_ids), "cutoff": _minor_cutoff(local_day(now)), "guardian": ConsentPurpose.GUARDIAN,
             "marketing": ConsentPurpose.MARKETING, "channel": consent_channel, "needs_consent": needs_consent},
        )
        return {member_id: reason for member_id, reason in cursor.fetchall() if reason}


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
    refused: list[int]  # over a frequency cap (the season's or the policy's)
    limited: list[int] = field(default_factory=list)  # over WeCom's own limit per customer


def _over(caps, used) -> bool:
    return any(cap and n >= cap for cap, n in zip(caps, used, strict=True))


def take_slots(member_ids: list[int], *, pol: SendPolicy, now: dt.datetime, wecom: bool = False,
               counted: bool = True) -> Allowance:
    """Inside the claiming transaction: which candidates (member ids, one per delivery, a member may
    repeat) fit under the caps; their sends are counted at once (released by `release` when a send
    does not happen). `wecom`: the candidates are WeCom customer mass messages, counted apart too and
    checked against WeCom's limit when the policy's mode is on. Not `counted` (a transactional
    notice): the caps neither hold them back nor count them; only WeCom's limit does, for `wecom`.

    One statement takes every candidate's slot for today (locking today's rows in member-id order)
    and reads the other days of the week and month beside it; the few refused are given back after.
    (Lock, read, then count was four statements, a sixth of a 2,000-delivery claim's time.)"""
    today = local_day(now)
    wanted: dict[int, int] = {}
    for member_id in member_ids:
        wanted[member_id] = wanted.get(member_id, 0) + 1
    if not wanted:
        return Allowance([], [])
    if not counted and not wecom:
        return Allowance(list(range(len(member_ids))), [])
    ids, ns = zip(*sorted(wanted.items()), strict=True)
    month_start = today.replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH taken AS (INSERT INTO {SEND_DAY} AS s (member_id, day, count, wecom) "
            "SELECT u.id, %(today)s, CASE WHEN %(counted)s THEN u.n ELSE 0 END, "
            "CASE WHEN %(wecom)s THEN u.n ELSE 0 END "
            "FROM unnest(%(ids)s::bigint[], %(ns)s::int[]) AS u(id, n) ORDER BY u.id "
            "ON CONFLICT (member_id, day) DO UPDATE SET count = s.count + excluded.count, "
            "wecom = s.wecom + excluded.wecom RETURNING s.member_id, s.count, s.wecom) "
            "SELECT t.member_id, t.count, t.wecom, "
            "coalesce(sum(o.count) FILTER (WHERE o.day > %(week)s), 0), "
            "coalesce(sum(o.count) FILTER (WHERE o.day > %(month)s), 0), "
            "coalesce(sum(o.wecom) FILTER (WHERE o.day > %(week)s), 0), "
            "coalesce(sum(o.wecom) FILTER (WHERE o.day >= %(month_start)s), 0) "
            f"FROM taken t LEFT JOIN {SEND_DAY} o ON o.member_id = t.member_id "
            "AND o.day >= %(since)s AND o.day < %(today)s GROUP BY t.member_id, t.count, t.wecom",
            {"today": today, "ids": list(ids), "ns": list(ns), "wecom": wecom, "counted": counted,
             "week": today - dt.timedelta(days=WEEK_DAYS), "month": today - dt.timedelta(days=MONTH_DAYS),
             "month_start": month_start,
             "since": min(month_start, today - dt.timedelta(days=MONTH_DAYS - 1))},
        )
        # Before these candidates: [today, the 7 days ending today, the 30 days ending today], and the
        # same of WeCom sends with the calendar month for the last.
        counts, wecom_counts = {}, {}
        for member_id, after, wecom_after, week_before, month_before, w_week, w_month in cursor.fetchall():
            before = int(after) - (wanted[member_id] if counted else 0)
            counts[member_id] = [before, before + int(week_before), before + int(month_before)]
            w_before = int(wecom_after) - (wanted[member_id] if wecom else 0)
            wecom_counts[member_id] = [w_before, w_before + int(w_week), w_before + int(w_month)]
        caps = caps_on(pol, today) if counted else (0, 0, 0)
        w_caps = wecom_caps(pol, today) if wecom else (0, 0, 0)
        allowed, refused, limited, given_back = [], [], [], {}
        for index, member_id in enumerate(member_ids):
            current, w_current = counts[member_id], wecom_counts[member_id]
            if _over(caps, current) or _over(w_caps, w_current):
                (refused if _over(caps, current) else limited).append(index)
                given_back[member_id] = given_back.get(member_id, 0) + 1
                continue
            counts[member_id] = [used + 1 for used in current]
            wecom_counts[member_id] = [used + 1 for used in w_current]
            allowed.append(index)
        if given_back:
            back_ids, back_ns = zip(*sorted(given_back.items()), strict=True)
            cursor.execute(
                f"UPDATE {SEND_DAY} s SET count = s.count - CASE WHEN %s THEN u.n ELSE 0 END, "
                "wecom = s.wecom - CASE WHEN %s THEN u.n ELSE 0 END "
                "FROM unnest(%s::bigint[], %s::int[]) AS u(id, n) WHERE s.member_id = u.id AND s.day = %s",
                [counted, wecom, list(back_ids), list(back_ns), today],
            )
    return Allowance(allowed, refused, limited)


def release(claims: list[tuple[int, dt.datetime]], *, wecom: bool = False, counted: bool = True) -> None:
    """Give back the slots of sends that did not happen: (member id, claimed at) each; `wecom`: they
    were WeCom customer mass messages (counted apart too); not `counted`: they took no slot of the
    caps (a transactional notice), so only WeCom's count, if any, is given back."""
    if not claims or (not counted and not wecom):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SEND_DAY} s SET count = CASE WHEN %s THEN greatest(s.count - u.n, 0) ELSE s.count END, "
            "wecom = CASE WHEN %s THEN greatest(s.wecom - u.n, 0) ELSE s.wecom END "
            "FROM (SELECT id, day, count(*) AS n FROM unnest(%s::bigint[], %s::date[]) AS x(id, day) "
            "GROUP BY id, day) AS u WHERE s.member_id = u.id AND s.day = u.day",
            [counted, wecom, [member_id for member_id, _at in claims], [local_day(at) for _id, at in claims]],
        )


def merge_send_days(survivor_id: int, duplicate_id: int) -> int:
    """A merged duplicate's sends count toward the survivor's caps: its day rows are added to the
    survivor's (members.services.merge handler)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {SEND_DAY} WHERE member_id = %s RETURNING day, count, wecom) "
            f"INSERT INTO {SEND_DAY} (member_id, day, count, wecom) SELECT %s, day, count, wecom FROM gone "
            f"ON CONFLICT (member_id, day) DO UPDATE SET count = {SEND_DAY}.count + excluded.count, "
            f"wecom = {SEND_DAY}.wecom + excluded.wecom",
            [duplicate_id, survivor_id],
        )
        return cursor.rowcount
