"""Reminders of events to members who hold a seat: a day before and two hours before.

A reminder is a row of EventReminder, one per (sign-up, kind), written set-based by the periodic
tick: the due sign-ups are claimed with FOR UPDATE SKIP LOCKED (two workers take different rows,
never wait on each other) and inserted with ON CONFLICT DO NOTHING on the unique (sign-up, kind),
so however many ticks run at once, late or twice, each member is reminded of each kind exactly once.

Who: confirmed sign-ups of open events (an offer not yet taken is not a seat), of live members.
A reminder is transactional (the member asked for the seat), so marketing consent is not needed;
but a member who withdrew marketing on every channel ('all': "stop everything") gets nothing.
When: a kind is due from its lead time before the start until the next kind's (day_before: from
24 h to 2 h before; two_hours: from 2 h before to the start), and only for sign-ups made before
that lead time (someone who signed up an hour ago is not reminded two hours before).

Sending: the rows are the outbox, handed to the campaigns' engine (communities.hooks: campaigns
sit above communities, so they register the sender). `hand_over` claims unhanded notices with
FOR UPDATE SKIP LOCKED, an event and kind at a time, gives them to the sender and marks them
handed in one transaction: the sender writes its deliveries in it, so a notice becomes a delivery
exactly once (the rounds: communities.services.handing). They are transactional notices, valid
until the event starts: the engine applies quiet hours and the member's explicit no but neither the
frequency caps nor the marketing consent (campaigns.services.notices). With no sender registered
nothing is handed and nothing is lost."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities import hooks
from communities.models import Event, EventReminder, ReminderKind, SignUp
from communities.services import handing
from members import sql as members_sql

EVENT = Event._meta.db_table
SIGNUP = SignUp._meta.db_table
REMINDER = EventReminder._meta.db_table
BATCH = 1000
MAX_BATCHES = 20
LEADS = (  # kind, due from (before the start), until (before the start)
    (ReminderKind.DAY_BEFORE, 24 * 60, 2 * 60),
    (ReminderKind.TWO_HOURS, 2 * 60, 0),
)


def _statement() -> str:
    kinds = " UNION ALL ".join(f"SELECT '{kind.value}'::text AS kind, {lead} AS lead_mins, {until} AS until_mins"
                               for kind, lead, until in LEADS)
    return f"""
        WITH k AS ({kinds}),
        due AS (
            SELECT s.id AS signup_id, s.event_id, s.member_id, s.store_id, s.code, k.kind,
                   e.title, e.place, e.starts_at
            FROM k
            JOIN {EVENT} e ON e.status = 'open'
                AND e.starts_at - make_interval(mins => k.lead_mins) <= %(now)s
                AND e.starts_at - make_interval(mins => k.until_mins) > %(now)s
            JOIN {SIGNUP} s ON s.event_id = e.id AND s.state = 'confirmed'
                AND coalesce(s.confirmed_at, s.created_at) < e.starts_at - make_interval(mins => k.lead_mins)
            JOIN {members_sql.MEMBER} m ON m.id = s.member_id AND {members_sql.live("m")}
            WHERE NOT EXISTS (SELECT 1 FROM {REMINDER} r WHERE r.signup_id = s.id AND r.kind = k.kind)
              AND NOT EXISTS (SELECT 1 FROM {members_sql.CONSENT} c WHERE c.member_id = s.member_id
                              AND c.purpose = 'marketing' AND c.channel = 'all' AND NOT c.granted)
            ORDER BY e.starts_at, s.id
            LIMIT %(batch)s
            FOR UPDATE OF s SKIP LOCKED
        )
        INSERT INTO {REMINDER} (signup_id, event_id, member_id, store_id, kind, text, created_at)
        SELECT signup_id, event_id, member_id, store_id, kind,
               left(format(CASE kind WHEN 'day_before' THEN %(day)s ELSE %(soon)s END, title,
                           to_char(starts_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI'), place, code), 500),
               %(now)s
        FROM due
        ON CONFLICT (signup_id, kind) DO NOTHING
        RETURNING id"""


def remind_batch(*, now=None, batch: int = BATCH) -> int:
    """Write the reminders due now for at most `batch` sign-up kinds (inside the caller's
    transaction, or its own statement); returns how many were written."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_statement(), {
            "now": now, "batch": batch, "tz": settings.TIME_ZONE,
            # Placeholders: 1 the event's title, 2 when it starts, 3 where, 4 the member's ticket code.
            "day": _("Reminder: %1$s is tomorrow, %2$s, at %3$s. Your ticket: %4$s"),
            "soon": _("Reminder: %1$s starts in two hours (%2$s) at %3$s. Your ticket: %4$s"),
        })
        return len(cursor.fetchall())


def remind_due(*, now=None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """The tick: reminders due now, a batch per transaction, at most `max_batches` (the next tick
    takes the rest). Safe on several workers at once."""
    total = 0
    for _round in range(max_batches):
        with transaction.atomic():
            written = remind_batch(now=now, batch=batch)
        total += written
        if written < batch:
            break
    return total


def _wording(kind: str, event: Event) -> str:
    at = timezone.localtime(event.starts_at).strftime("%Y-%m-%d %H:%M")
    values = {"title": event.title, "at": at, "place": event.place}
    if kind == ReminderKind.DAY_BEFORE:
        return _("Reminder: %(title)s is tomorrow, %(at)s, at %(place)s.") % values
    if kind == ReminderKind.TWO_HOURS:
        return _("Reminder: %(title)s starts in two hours (%(at)s) at %(place)s.") % values
    return _("A seat at %(title)s (%(at)s, %(place)s) is free for you: confirm it in time to take it.") % values


# An (event, kind) at a time: that of the oldest unhanded notice nobody holds.
_ONE_EVENT_AND_KIND = f"""(t.event_id, t.kind) = (SELECT f.event_id, f.kind FROM {REMINDER} f WHERE f.handed_at IS NULL
                                               ORDER BY f.id LIMIT 1 FOR UPDATE SKIP LOCKED)"""


def hand_over(*, now=None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Give waiting notices to the registered sender, an (event, kind) batch per transaction;
    returns how many were handed. Without a sender: 0, and the notices wait."""
    now = now or timezone.now()

    def hand(sender: hooks.NoticeSender, ids: list[int]) -> list[tuple[int, str | None]]:
        rows = list(EventReminder.objects.filter(pk__in=ids).order_by("pk")
                    .values_list("event_id", "kind", "member_id"))
        event_id, kind, _member = rows[0]
        event = Event.objects.get(pk=event_id)
        label = ReminderKind(kind).label
        ref = sender(hooks.NoticeBatch(
            event_id=event_id, store_id=event.store_id, kind=kind, name=f"{event.title} · {label}"[:100],
            text=_wording(kind, event), member_ids=tuple(member for _e, _k, member in rows), notice_ids=tuple(ids),
            now=now, purpose="transactional", valid_until=event.starts_at,
        ))
        return [(notice_id, ref) for notice_id in ids]

    # A short round only means that event and kind are done: the next round takes another.
    return handing.hand_over(table=REMINDER, hand=hand, now=now, batch=batch, max_rounds=max_batches,
                             where=_ONE_EVENT_AND_KIND, stop_when_short=False)
