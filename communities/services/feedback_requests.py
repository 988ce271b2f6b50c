"""After an event: each attendee is asked once "how was it?", with their own feedback link.

Who: members checked in at an open event that asks for feedback (Event.ask_feedback, on unless the
organiser turned it off), live, who have not given feedback yet. When: from DELAY after the event
ends until ASK_WITHIN after it (a tick that missed that window does not ask a week late; an event
that ended before this feature ran is not asked about). The campaigns' engine defers what falls
in quiet hours.

Writing: one FeedbackRequest per (event, member), written set-based by the reminders' 5-minute tick
(communities.tasks.send_reminders): the due check-ins are claimed with FOR UPDATE SKIP LOCKED and
inserted ON CONFLICT DO NOTHING on the unique (event, member), at most BATCH a statement and
MAX_BATCHES a tick, so however many ticks run, late or at once, each attendee is asked once.

Sending: the rows are the outbox. `hand_over` claims unhanded ones with FOR UPDATE SKIP LOCKED and
gives each to the registered notice sender (communities.hooks), one notice a member because each
text carries that member's link (communities.services.feedback.link), kind "feedback", valid until
feedback closes (feedback.closes_at); it marks them handed in the sender's transaction, so each is
taken exactly once (the rounds: communities.services.handing). One who gave feedback meanwhile,
or whose feedback has closed, is marked, not sent. The purpose is marketing: the member asked for
the seat, not for a survey, and a request for an opinion is a marketing message in consent terms,
so the member's marketing consent, the frequency caps and quiet hours apply (a suppressed delivery
keeps its reason in campaigns)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from communities import hooks
from communities.models import CheckIn, Event, EventFeedback, FeedbackRequest
from communities.services import feedback, handing
from members import sql as members_sql

EVENT = Event._meta.db_table
CHECKIN = CheckIn._meta.db_table
FEEDBACK = EventFeedback._meta.db_table
REQUEST = FeedbackRequest._meta.db_table
KIND = "feedback"  # the NoticeBatch kind of a feedback request
DELAY = dt.timedelta(hours=2)  # after the event ends
ASK_WITHIN = dt.timedelta(days=2)  # after the event ends: not asked later than that
BATCH = 1000
MAX_BATCHES = 20
HAND_BATCH = 50  # requests handed per transaction (a notice each)
MAX_ROUNDS = 20
ANSWERED, CLOSED = "answered", "closed"  # handed_to of a request not sent


def ask_batch(*, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Write the feedback requests due now for at most `batch` attendees (inside the caller's
    transaction, or its own statement); returns how many were written."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH due AS (
                    SELECT c.event_id, c.member_id, e.store_id
                    FROM {EVENT} e
                    JOIN {CHECKIN} c ON c.event_id = e.id
                    JOIN {members_sql.MEMBER} m ON m.id = c.member_id AND {members_sql.live("m")}
                    WHERE e.status = 'open' AND e.ask_feedback
                      AND e.ends_at <= %(due_end)s AND e.ends_at > %(oldest_end)s
                      AND NOT EXISTS (SELECT 1 FROM {FEEDBACK} f WHERE f.event_id = c.event_id
                                      AND f.member_id = c.member_id)
                      AND NOT EXISTS (SELECT 1 FROM {REQUEST} r WHERE r.event_id = c.event_id
                                      AND r.member_id = c.member_id)
                    ORDER BY e.ends_at, c.id
                    LIMIT %(batch)s
                    FOR UPDATE OF c SKIP LOCKED
                )
                INSERT INTO {REQUEST} (event_id, member_id, store_id, created_at, handed_to)
                SELECT event_id, member_id, store_id, %(now)s, '' FROM due
                ON CONFLICT (event_id, member_id) DO NOTHING
                RETURNING id""",
            {"now": now, "batch": batch, "due_end": now - DELAY, "oldest_end": now - ASK_WITHIN})
        return len(cursor.fetchall())


def ask_due(*, now: dt.datetime | None = None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """The tick: feedback requests due now, a batch per transaction, at most `max_batches` (the
    next tick takes the rest). Safe on several workers at once."""
    total = 0
    for _round in range(max_batches):
        with transaction.atomic():
            written = ask_batch(now=now, batch=batch)
        total += written
        if written < batch:
            break
    return total


def _text(event: Event, member_id: int) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        until = timezone.localtime(feedback.closes_at(event)).strftime("%Y-%m-%d")
        return _("Thank you for coming to %(title)s! How was it? Rate it in one tap (until %(date)s): %(link)s") % {
            "title": event.title, "date": until, "link": feedback.link(event.pk, member_id)}


def hand_over(*, now: dt.datetime | None = None, batch: int = HAND_BATCH, max_rounds: int = MAX_ROUNDS) -> int:
    """Give waiting feedback requests to the registered sender, `batch` per transaction; returns how
    many were handed (those answered meanwhile or past feedback's close are marked, not sent).
    Without a sender: 0, and they wait."""
    now = now or timezone.now()

    def hand(sender: hooks.NoticeSender, ids: list[int]) -> list[tuple[int, str | None]]:
        rows = list(FeedbackRequest.objects.filter(pk__in=ids).select_related("event").order_by("pk"))
        answered = set(EventFeedback.objects.filter(event_id__in={r.event_id for r in rows},
                                                    member_id__in={r.member_id for r in rows})
                       .values_list("event_id", "member_id"))
        refs = []
        for request in rows:
            event = request.event
            if (request.event_id, request.member_id) in answered:
                refs.append((request.pk, ANSWERED))
            elif feedback.closes_at(event) <= now:
                refs.append((request.pk, CLOSED))
            else:
                refs.append((request.pk, sender(hooks.NoticeBatch(
                    event_id=event.pk, store_id=event.store_id, kind=KIND,
                    name=f"{event.title} · {_('Feedback')}"[:100], text=_text(event, request.member_id),
                    member_ids=(request.member_id,), notice_ids=(request.pk,), now=now,
                    purpose="marketing",  # a survey the member did not ask for: consent and caps apply
                    valid_until=feedback.closes_at(event)))))
        return refs

    return handing.hand_over(table=REQUEST, hand=hand, now=now, batch=batch, max_rounds=max_rounds)
