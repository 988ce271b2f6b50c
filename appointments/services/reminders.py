"""Reminders of bookings a day and two hours before, with the campaigns' rules of respect.

A reminder is a row of BookingReminder, one per (booking, kind), written set-based by the periodic
tick: due bookings are claimed with FOR UPDATE SKIP LOCKED and inserted with ON CONFLICT DO NOTHING
on the unique (booking, kind), so however many ticks run, late or twice, each is written once.

Who: bookings still `booked`, of live members. The member asked for the appointment, so no marketing
consent is needed; a member who opted out of marketing on WeCom or on every channel (a "stop
everything") gets the row written as suppressed (`opted_out`), so the store sees why they were not
reminded. When: a kind is due from its lead time before the start until the next kind's (day_before:
24 h to 2 h before; two_hours: 2 h before to the start), only for bookings made before that lead
time. Quiet hours: while the campaigns' send policy is in its quiet hours the tick writes nothing; the
first tick after them writes what is still due (a two-hour reminder whose start came before the end
of quiet hours is never sent: better none than one at night).

Sending: a reminder written `sent` is handed to the campaigns' engine in the transaction that writes
it (campaigns.services.notices, one campaign per store, kind and text: the bookings of one service at
one time), so the row's existence is the hand-over's mark: a booking's kind is handed exactly once,
with the bookings claimed SKIP LOCKED and the rows unique per (booking, kind). `sent` says it was
given to the engine; the campaign's delivery says what became of it. The notice is transactional and
valid until the booking starts: not held to the frequency caps nor the marketing consent, but an
opt-out, quiet hours (expired if they would hold it past the start) and an address still apply. A
`suppressed` row is never handed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from appointments.models import Booking, BookingReminder, ReminderKind, ReminderState, Service
from members import sql as members_sql

BOOKING = Booking._meta.db_table
SERVICE = Service._meta.db_table
REMINDER = BookingReminder._meta.db_table
# A batch's reminders are handed in its transaction, one campaign per (store, kind, text), about 17 ms
# each: 200 bookings at distinct times are ~3.5 s, and a tick at most 20 of them (~70 s, under the
# task's 240 s).
BATCH = 200
MAX_BATCHES = 20
LEADS = ((ReminderKind.DAY_BEFORE, 24 * 60, 2 * 60), (ReminderKind.TWO_HOURS, 2 * 60, 0))


def _statement() -> str:
    kinds = " UNION ALL ".join(f"SELECT '{kind.value}'::text AS kind, {lead} AS lead_mins, {until} AS until_mins"
                               for kind, lead, until in LEADS)
    return f"""
        WITH k AS ({kinds}),
        due AS (
            SELECT b.id AS booking_id, b.member_id, b.store_id, k.kind, s.name, b.starts_at,
                   EXISTS (SELECT 1 FROM {members_sql.CONSENT} c WHERE c.member_id = b.member_id
                           AND c.purpose = 'marketing' AND c.channel IN ('all', 'wecom') AND NOT c.granted) AS out
            FROM k
            JOIN {BOOKING} b ON b.state = 'booked'
                AND b.starts_at - make_interval(mins => k.lead_mins) <= %(now)s
                AND b.starts_at - make_interval(mins => k.until_mins) > %(now)s
                AND b.created_at < b.starts_at - make_interval(mins => k.lead_mins)
            JOIN {SERVICE} s ON s.id = b.service_id
            JOIN {members_sql.MEMBER} m ON m.id = b.member_id AND {members_sql.live("m")}
            WHERE NOT EXISTS (SELECT 1 FROM {REMINDER} r WHERE r.booking_id = b.id AND r.kind = k.kind)
            ORDER BY b.starts_at, b.id
            LIMIT %(batch)s
            FOR UPDATE OF b SKIP LOCKED
        )
        INSERT INTO {REMINDER} (booking_id, member_id, store_id, kind, state, reason, text, created_at)
        SELECT booking_id, member_id, store_id, kind, CASE WHEN out THEN 'suppressed' ELSE 'sent' END,
               CASE WHEN out THEN 'opted_out' ELSE '' END,
               left(format(CASE kind WHEN 'day_before' THEN %(day)s ELSE %(soon)s END, name,
                           to_char(starts_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI')), 500),
               %(now)s
        FROM due
        ON CONFLICT (booking_id, kind) DO NOTHING
        RETURNING id, member_id, store_id, kind, state, text, booking_id"""


def hand_over(rows, *, now) -> int:
    """Give the reminders just written `sent` to the campaigns' engine, one campaign per (store,
    kind, text), in the caller's transaction; returns how many were handed."""
    from campaigns.services import notices

    groups: dict[tuple[int, str, str], list[tuple[int, int, int]]] = {}
    for reminder_id, member_id, store_id, kind, state, text, booking_id in rows:
        if state == ReminderState.SENT:
            groups.setdefault((store_id, kind, text), []).append((reminder_id, member_id, booking_id))
    starts = dict(Booking.objects.filter(pk__in=[item[2] for items in groups.values() for item in items])
                  .values_list("pk", "starts_at"))
    for (store_id, kind, text), items in groups.items():
        ids = [reminder_id for reminder_id, _member, _booking in items]
        name = f"{_('Booking reminder')} · {ReminderKind(kind).label} · {text}"
        # A service message (the member booked it), pointless once the booking has begun.
        notices.send_notice(key=notices.dedupe_key(f"booking:{kind}", ids), name=name, store_id=store_id,
                            text=text, member_ids=[member for _id, member, _booking in items], now=now,
                            purpose="transactional", valid_until=min(starts[b] for _i, _m, b in items))
    return sum(len(items) for items in groups.values())


@transaction.atomic
def remind_batch(*, now=None, batch: int = BATCH) -> int:
    """Write the reminders due now for at most `batch` booking kinds and hand the `sent` ones to the
    campaigns' engine, in one transaction; returns how many were written."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {
            "now": now, "batch": batch, "tz": settings.TIME_ZONE,
            # Placeholders: 1 the service, 2 when it starts.
            "day": _("Reminder: your appointment for %1$s is tomorrow, %2$s. See you at the store!"),
            "soon": _("Reminder: your appointment for %1$s starts in two hours (%2$s)."),
        })
        rows = cursor.fetchall()
    hand_over(rows, now=now)
    return len(rows)


def in_quiet_hours(now) -> bool:
    from campaigns.services import respect

    return respect.quiet_until(respect.policy(), now) is not None


def remind_due(*, now=None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """The tick: reminders due now, a batch per transaction (the next tick takes the rest). Nothing
    in quiet hours. Safe on several workers at once."""
    now = now or timezone.now()
    if in_quiet_hours(now):
        return 0
    total = 0
    for _round in range(max_batches):
        with transaction.atomic():
            written = remind_batch(now=now, batch=batch)
        total += written
        if written < batch:
            break
    return total
