"""The fan-out: each new event of the kernel's log becomes one Delivery per subscription that may hear it.

A batch of unrelayed events is claimed in id order, fanned out in one INSERT ... SELECT and marked
relayed, all in one transaction: a crash leaves the batch unrelayed and the next relay does it again
(ON CONFLICT keeps one delivery per subscription and event). One relay runs at a time (a
transaction-scoped advisory lock; a worker that finds it taken leaves the batch to its holder): two
batches fanned out side by side would commit in either order, and the sender could post a member's
later event before the earlier batch's deliveries were even visible.

A subscription hears an event when it lists the type, its integration's key is active
and holds the read scope of the type's resource, and the event is in its store: the subscription's
store, else its key's store, else any. Test pings are never fanned out (a ping's one delivery is
created with it). A paused subscription hears too: its deliveries wait, unclaimed, until it is
resumed, so a pause loses nothing. Delivery ids are given here, in event-id order within a batch; an event committed
late with a lower id is in a later batch and gets a later delivery id, and "in order per member"
means in delivery-id order per subscription and member.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from scrm import events, jobs, permissions
from scrm.models import ApiKey
from webhooks.models import Delivery, Subscription

DELIVERY = Delivery._meta.db_table
SUBSCRIPTION = Subscription._meta.db_table
API_KEY = ApiKey._meta.db_table
BATCH = 5000
LOCK = (72_101, 0)  # advisory lock (class, key): held by the one relay running
NOT_FANNED_OUT = ("ping",)


@dataclass(frozen=True)
class Relayed:
    events: int
    deliveries: int


def _type_scopes() -> tuple[list[str], list[str]]:
    """(type codes, the read scope each needs), for the types that fan out."""
    codes, scopes = [], []
    resources = permissions.resources()
    for code, kind in events.types().items():
        if code in NOT_FANNED_OUT or kind.resource not in resources:
            continue
        codes.append(code)
        scopes.append(resources[kind.resource].read_scope)
    return codes, scopes


def relay(*, batch: int = BATCH) -> Relayed:
    """Fan out one batch of unrelayed events; Relayed(0, 0) when there is none."""
    if not 1 <= batch <= 50_000:
        raise ValueError(f"relay batch must be between 1 and 50,000, not {batch}")
    codes, scopes = _type_scopes()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        if not jobs.try_transaction_lock(*LOCK):
            return Relayed(0, 0)  # another worker is relaying: the events are its to fan out, in order
        cursor.execute(
            f"""
            WITH claimed AS (
                SELECT id, type, member_id, store_id FROM {events.EVENT}
                WHERE NOT relayed ORDER BY id LIMIT %(batch)s FOR UPDATE SKIP LOCKED
            ), fanned AS (
                INSERT INTO {DELIVERY} (subscription_id, event_id, member_id, state, attempts, next_attempt_at,
                                        last_error, created_at)
                SELECT s.id, e.id, e.member_id, 'pending', 0, %(now)s, '', %(now)s
                FROM claimed e
                JOIN unnest(%(codes)s::text[], %(scopes)s::text[]) AS t(code, scope) ON t.code = e.type
                JOIN {SUBSCRIPTION} s ON s.state IN ('active', 'paused') AND e.type = ANY(s.event_types)
                JOIN {API_KEY} k ON k.id = s.api_key_id
                WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > %(now)s)
                  AND t.scope = ANY(k.scopes)
                  AND (coalesce(s.store_id, k.store_id) IS NULL OR coalesce(s.store_id, k.store_id) = e.store_id)
                ORDER BY e.id, s.id
                ON CONFLICT (subscription_id, event_id) DO NOTHING
                RETURNING 1
            ), marked AS (
                UPDATE {events.EVENT} SET relayed = true WHERE id IN (SELECT id FROM claimed) RETURNING 1
            )
            SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM fanned)
            """,
            {"batch": batch, "now": now, "codes": codes, "scopes": scopes},
        )
        relayed, deliveries = cursor.fetchone()
    return Relayed(relayed, deliveries)


def run(*, seconds: float = 8.0, batch: int = BATCH) -> Relayed:
    """Batches until none is left or `seconds` have passed."""
    events_done = deliveries = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = relay(batch=batch)
        events_done += done.events
        deliveries += done.deliveries
        if done.events < batch:
            break
    return Relayed(events_done, deliveries)


@dataclass(frozen=True)
class Pruned:
    deliveries: int
    events: int
    done: bool  # False: the batches ran out first; the next run goes on


def prune(*, batches: int = 100, batch: int = 10_000, now: dt.datetime | None = None) -> Pruned:
    """Past retention (SIYU_EVENT_RETENTION_DAYS): the deliveries of old events first, then the events
    (scrm.events.prune, with the same cutoff), each batch in its own transaction."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.SIYU_EVENT_RETENTION_DAYS)
    deliveries = removed = 0
    for _ in range(batches):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {DELIVERY} WHERE id IN (SELECT d.id FROM {events.EVENT} e "
                f"JOIN {DELIVERY} d ON d.event_id = e.id WHERE e.occurred_at < %s LIMIT %s)",
                [cutoff, batch],
            )
            count = cursor.rowcount
        deliveries += count
        batches -= 1
        if count < batch:
            break
    else:
        return Pruned(deliveries, 0, False)
    for _ in range(batches):
        with transaction.atomic():
            count = events.prune(now=now, batch=batch)
        removed += count
        if count < batch:
            return Pruned(deliveries, removed, True)
    return Pruned(deliveries, removed, False)


def unrelayed() -> int:
    """Events still waiting for the fan-out (for the health of the relay)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {events.EVENT} WHERE NOT relayed")
        return cursor.fetchone()[0]
