"""WeCom callback events: stored first, acknowledged, then processed by workers through a registry of
handlers, so a repeated or out-of-order callback does no harm.

The CallbackEvent table is the outbox. The endpoint stores each decrypted callback once (`store_event`:
INSERT … ON CONFLICT (digest) DO NOTHING, the digest being the SHA-256 of the decrypted XML, so
WeCom's retries of one message are one row) and queues `process_event` on commit for low latency;
the periodic sweeper (`process_pending`, beat) picks up whatever is still pending, so a lost broker
message loses nothing.

Processing claims one pending row at a time with SELECT … FOR UPDATE SKIP LOCKED in id order and
runs its handlers inside that transaction, each in its own savepoint, so two workers never process
one event at once and a handler's writes commit together with the event's new status:

- no handler for (Event, ChangeType): the event is `ignored` (unknown types are stored, never a 500);
- every handler returned (or raised `Ignore`): `done` (`ignored` when all of them raised `Ignore`);
- a handler raised anything else: the event stays `pending` and is tried again after a backoff
  (RETRY_BASE_SECONDS doubled per attempt); after MAX_ATTEMPTS attempts it is `failed`. The error
  kept is the exception's class and message, truncated to the column, database DETAIL lines dropped
  and long digit runs masked (handlers raise messages without personal data all the same).
  For a pending row `processed_at` is when it was last tried; otherwise when it was settled.

Handlers are registered with `register_handler(event, change_type, handler)` from an app's plugins
(change_type None: every change type of that event). `handler(event_row)` must be idempotent: it
may run again after a crash or a failure of another handler of the same event.

Out-of-order rule: WeCom does not promise delivery order, retries arrive late, and two workers may
process two events of one contact at once. Every event carries `created_at_wecom` (the message's
CreateTime, whole seconds). A handler applies an event to a row only when the event is not older
than what that row last recorded from WeCom (`is_stale(event, seen_at)` says so); a stale event —
a delete arriving after a newer add, an edit older than the last sync — changes nothing and the
handler raises `Ignore` (or returns). Events of the same second are applied in arrival (id) order.

Retention: `purge_old_events` deletes settled events older than WECOM_EVENT_RETENTION_DAYS.
Erasure: `scrub_events_for(external_userids)` blanks the payload of every event naming one of them
(the member centre's erasure calls it through the contacts part's privacy step).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from wecom.models import CallbackEvent, EventStatus

logger = logging.getLogger(__name__)

Handler = Callable[[CallbackEvent], None]

MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30  # 30 s, 1 min, 2 min, 4 min, then failed
ERROR_MAX = CallbackEvent._meta.get_field("error").max_length
EVENT_MAX = CallbackEvent._meta.get_field("event").max_length
CHANGE_TYPE_MAX = CallbackEvent._meta.get_field("change_type").max_length
TABLE = CallbackEvent._meta.db_table

# Reasons written into `error` of an ignored event (worded when shown: see REASON_LABELS in the view).
NO_HANDLER = "no handler"
UNPARSEABLE = "unparseable"
ERASED = "erased"

_handlers: dict[tuple[str, str | None], list[Handler]] = {}


class Ignore(Exception):  # noqa: N818 (a signal to the processor, not an error)
    """Raised by a handler that decides the event changes nothing (stale, about an erased contact…)."""


# --- the registry -------------------------------------------------------------------------------


def register_handler(event: str, change_type: str | None, handler: Handler) -> None:
    """Run ``handler(event_row)`` for every callback with this Event (and ChangeType; None for all of
    them). Several handlers of one type run in registration order; registering one twice is a no-op."""
    handlers = _handlers.setdefault((event, change_type), [])
    if handler not in handlers:
        handlers.append(handler)


def unregister_handler(event: str, change_type: str | None, handler: Handler) -> None:
    handlers = _handlers.get((event, change_type), [])
    if handler in handlers:
        handlers.remove(handler)


def handlers_for(event: str, change_type: str) -> list[Handler]:
    return [*_handlers.get((event, None), []), *(_handlers.get((event, change_type), []) if change_type else [])]


def is_stale(event: CallbackEvent, seen_at: datetime | None) -> bool:
    """Whether ``event`` is older than ``seen_at`` (when the row it would change last took WeCom's
    state): then it must change nothing. An event without a CreateTime is never stale."""
    if seen_at is None or event.created_at_wecom is None:
        return False
    return event.created_at_wecom < seen_at.replace(microsecond=0)


# Fields of a stored event the events page and the API show: WeCom's ids and codes, nothing
# personal. Any other field is listed by name with its value withheld. (WelcomeCode is a one-time
# credential for the welcome message: withheld too.)
SHOWN_FIELDS = (
    "ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "UserID",
    "ExternalUserID", "State", "FailReason", "ChatId", "UpdateDetail", "JoinScene", "QuitScene",
    "MemChangeCnt", "MemChangeList", "LastMemVer", "CurMemVer", "Id", "TagType", "StrategyId",
)
WITHHELD = "…"


# The envelope every event repeats, which the row's own columns already show.
HEADER_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType")


def shown_fields(event: CallbackEvent, *, headers: bool = True) -> list[tuple[str, str]]:
    """The event's fields as (name, value) in a stable order, values outside SHOWN_FIELDS withheld;
    without ``headers``, the envelope fields are left out."""
    payload = event.payload or {}
    names = SHOWN_FIELDS if headers else [name for name in SHOWN_FIELDS if name not in HEADER_FIELDS]
    known = [(name, str(payload[name])) for name in names if name in payload]
    other = [(name, WITHHELD) for name in sorted(payload) if name not in SHOWN_FIELDS]
    return known + other


# --- storing ------------------------------------------------------------------------------------


def _create_time(fields: dict) -> datetime | None:
    try:
        seconds = int(str(fields.get("CreateTime", "")).strip())
    except ValueError:
        return None
    if not 0 < seconds < 2**33:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def store_event(fields: dict, *, raw_digest: str, ignore_reason: str = "") -> CallbackEvent:
    """Store one decrypted callback (its flat XML fields) unless a row with this digest exists.
    Returns the row with ``created`` set; a new pending row is queued for processing on commit.
    ``ignore_reason`` stores it as ignored (a signed message that could not be parsed)."""
    payload = {str(key): str(value) for key, value in fields.items()}
    now = timezone.now()
    status = EventStatus.IGNORED if ignore_reason else EventStatus.PENDING
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (digest, received_at, created_at_wecom, event, change_type, payload, status, "
            "attempts, processed_at, error) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, 0, %s, %s) "
            "ON CONFLICT (digest) DO NOTHING RETURNING id",
            [
                raw_digest,
                now,
                _create_time(payload),
                payload.get("Event", "")[:EVENT_MAX],
                payload.get("ChangeType", "")[:CHANGE_TYPE_MAX],
                _json(payload),
                status,
                now if ignore_reason else None,
                ignore_reason[:ERROR_MAX],
            ],
        )
        row = cursor.fetchone()
    if row is None:
        event = CallbackEvent.objects.get(digest=raw_digest)
        event.created = False
        return event
    event = CallbackEvent.objects.get(pk=row[0])
    event.created = True
    if status == EventStatus.PENDING:
        transaction.on_commit(lambda pk=event.pk: queue(pk), robust=True)
    return event


def _json(payload: dict) -> str:
    import json

    return json.dumps(payload, ensure_ascii=False)


def queue(event_id: int) -> None:
    """Ask a worker to process the event now. A broker that is down costs nothing but latency: the
    row is pending and the sweeper takes it."""
    from wecom.tasks.events import process_event

    try:
        process_event.apply_async((event_id,), retry=False, expires=600)
    except Exception:  # noqa: BLE001 (any broker failure: the outbox row is the guarantee)
        logger.warning("wecom event %s not queued (broker unavailable); the sweeper will take it", event_id)


# --- processing ---------------------------------------------------------------------------------

_DUE = (
    "status = 'pending' AND (attempts = 0 OR processed_at IS NULL "
    "OR processed_at <= %s - make_interval(secs => %s * power(2, attempts - 1)))"
)


def _claim(now: datetime, event_id: int | None = None) -> CallbackEvent | None:
    """Lock the next due pending event (or this one, if due), skipping rows another worker holds.
    Must run inside a transaction."""
    sql = f"SELECT * FROM {TABLE} WHERE {_DUE}"
    params: list = [now, RETRY_BASE_SECONDS]
    if event_id is not None:
        sql += " AND id = %s"
        params.append(event_id)
    sql += " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    return next(iter(CallbackEvent.objects.raw(sql, params)), None)


def process_event(event_id: int, *, now: datetime | None = None) -> str | None:
    """Process one event if it is pending and due and no other worker holds it. Returns its new
    status, or None when there was nothing to do."""
    with transaction.atomic():
        event = _claim(now or timezone.now(), event_id)
        return _process(event, now or timezone.now()) if event else None


def process_pending(*, limit: int = 500, seconds: float = 40.0, now: datetime | None = None) -> dict[str, int]:
    """Process due pending events in id order, one transaction each, until none is left, ``limit``
    were processed or ``seconds`` have passed. Safe to run in many workers at once."""
    counts = {"done": 0, "ignored": 0, "failed": 0, "retry": 0}
    deadline = time.monotonic() + seconds
    for _n in range(limit):
        with transaction.atomic():
            event = _claim(now or timezone.now())
            if event is None:
                break
            status = _process(event, now or timezone.now())
        counts["retry" if status == EventStatus.PENDING else status] += 1
        if time.monotonic() > deadline:
            break
    return counts


def _process(event: CallbackEvent, now: datetime) -> str:
    handlers = handlers_for(event.event, event.change_type)
    event.attempts += 1
    event.processed_at = now
    if not handlers:
        event.status, event.error = EventStatus.IGNORED, NO_HANDLER
        event.save(update_fields=["status", "error", "attempts", "processed_at"])
        return event.status
    failure, ignored = None, 0
    for handler in handlers:
        try:
            with transaction.atomic():
                handler(event)
        except Ignore as exc:
            ignored += 1
            event.error = safe_error_text(exc)
        except Exception as exc:  # noqa: BLE001 (a handler's failure is recorded and retried, whatever it is)
            failure = exc
    if failure is not None:
        event.error = safe_error_text(failure)
        event.status = EventStatus.FAILED if event.attempts >= MAX_ATTEMPTS else EventStatus.PENDING
        logger.warning(
            "wecom event %s (%s/%s) attempt %s failed: %s",
            event.pk, event.event, event.change_type, event.attempts, type(failure).__name__,
        )
    elif ignored == len(handlers):
        event.status = EventStatus.IGNORED
    else:
        event.status, event.error = EventStatus.DONE, ""
    event.save(update_fields=["status", "error", "attempts", "processed_at"])
    return event.status


_DIGITS = re.compile(r"\d{6,}")


def safe_error_text(exc: BaseException) -> str:
    """The exception's class and message, fit for the `error` column: a database error's DETAIL
    (which quotes row values) dropped, runs of six or more digits (phones) masked, truncated."""
    message = str(exc)
    if isinstance(exc, DatabaseError):
        message = message.split("\n", 1)[0]
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return _DIGITS.sub("…", text)[:ERROR_MAX]


# --- reading the table ----------------------------------------------------------------------------
# The table grows with every callback: the events page counts at most COUNT_CAP + 1 rows of a status
# (shown "10,000+") and pages by id (keyset), never with a COUNT(*) over the whole table.
COUNT_CAP = 10_000


def capped_status_counts(queryset, *, cap: int | None = None) -> dict[str, int]:
    """Rows of each status in ``queryset``, each counted up to ``cap + 1`` (more than ``cap`` means
    "cap+"; COUNT_CAP by default): SELECT count(*) FROM (… LIMIT cap + 1), one per status."""
    cap = COUNT_CAP if cap is None else cap
    return {status: queryset.filter(status=status).order_by()[: cap + 1].count() for status in EventStatus.values}


@dataclass
class KeysetPage:
    """One page of events, newest first: ``rows``, and the ids to ask for the older (``before``)
    and the newer (``after``) page, None when there is none."""

    rows: list
    older: int | None
    newer: int | None

    @property
    def has_other_pages(self) -> bool:
        return self.older is not None or self.newer is not None


def _id_param(raw) -> int | None:
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None


def keyset_page(queryset, *, before=None, after=None, size: int = 50) -> KeysetPage:
    """The ``size`` events (newest first) older than id ``before``, newer than id ``after``, or the
    newest ones; a bad id reads as none. Each page is one indexed range read of size + 1 rows."""
    before, after = _id_param(before), _id_param(after)
    queryset = queryset.order_by()
    if after is not None and before is None:
        rows = list(queryset.filter(id__gt=after).order_by("id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(rows, rows[-1].pk if rows else after + 1, rows[0].pk if more and rows else None)
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    newer = (rows[0].pk if rows else before) if before is not None else None
    return KeysetPage(rows, rows[-1].pk if more else None, newer)


def retry_failed(*, ids: Iterable[int] | None = None) -> int:
    """Put failed events back to pending with a fresh attempt count (all of them, or these ids);
    idempotent: events that are not failed are left alone. Returns how many were put back."""
    failed = CallbackEvent.objects.filter(status=EventStatus.FAILED)
    if ids is not None:
        failed = failed.filter(pk__in=list(ids))
    with transaction.atomic():
        pks = list(failed.select_for_update(skip_locked=True).values_list("pk", flat=True))
        count = CallbackEvent.objects.filter(pk__in=pks, status=EventStatus.FAILED).update(
            status=EventStatus.PENDING, attempts=0, processed_at=None
        )
        for pk in pks[:100]:
            transaction.on_commit(lambda pk=pk: queue(pk), robust=True)
    return count


# --- retention and erasure ----------------------------------------------------------------------


def retention_days() -> int:
    return int(getattr(settings, "WECOM_EVENT_RETENTION_DAYS", 90))


def purge_old_events(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete settled events (processed, ignored, failed) received more than the retention period
    ago, in batches. Pending events are kept whatever their age."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    deleted = 0
    while True:
        with transaction.atomic():
            pks = list(
                CallbackEvent.objects.filter(received_at__lt=cutoff)
                .exclude(status=EventStatus.PENDING)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch]
            )
            if not pks:
                return deleted
            deleted += CallbackEvent.objects.filter(pk__in=pks).delete()[1].get(CallbackEvent._meta.label, 0)


def scrub_events_for(external_userids: Iterable[str]) -> int:
    """Blank the payload of every stored event that names one of these external_userids (any field
    equal to one, or a list field containing one); a pending one is ignored so no handler acts on it
    after the erasure. Runs inside the caller's transaction (the member's erasure). Returns the count."""
    ids = sorted({str(value) for value in external_userids if value})
    if not ids:
        return 0
    patterns = ["%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for value in ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET payload = '{{}}'::jsonb, "
            "status = CASE WHEN status = 'pending' THEN 'ignored' ELSE status END, "
            "error = CASE WHEN status = 'pending' THEN %s ELSE error END "
            "WHERE EXISTS (SELECT 1 FROM jsonb_each_text(payload) AS field(key, value) "
            "WHERE field.value = ANY(%s) OR field.value LIKE ANY(%s))",
            [ERASED, ids, patterns],
        )
        return cursor.rowcount
