"""The sender: claims due deliveries, posts each event signed to its subscription's URL and writes the
answers back, so every subscription gets every event at least once, in order per member.

One round (`send_due`):
1. claim, in one statement with SKIP LOCKED: pending deliveries that are due and not leased, of
   active subscriptions, each the head of its (subscription, member) queue (no earlier pending
   delivery for the same subscription and member; an event with no member has no order). The claim
   counts an attempt and leases the rows (next_attempt_at moves to the lease's end too, so a worker
   killed mid-send leaves rows that come due again by themselves, with the same event and body);
2. after the claim commits, post them with bounded concurrency through one pooled HTTP client per
   process (timeouts, no redirects followed), each subscription within its rate (a token bucket in
   Redis shared by every worker, paused by a 429 for its Retry-After);
3. write every answer back in one UPDATE (and move a retried delivery's successors for its member
   to its next attempt, so the claim does not walk over what cannot go yet): 2xx delivered; 408,
   429, 5xx, timeouts and connection errors pending again after a backoff (a 429: after its
   Retry-After) until the retry window since the delivery was created is spent, then parked with
   the last answer; 410 Gone parks the delivery and pauses the subscription; any other answer
   parks it at once (a receiver that refuses an event will refuse it again); an address Siyu does
   not post to (webhooks.services.urls, checked as each connection is made) sends nothing and
   pauses the subscription with the reason, its deliveries waiting. A subscription
   failing with no success for FAILING_PAUSE is paused and its owner told
   (webhooks.services.notices). A paused subscription's deliveries wait.

The body is the envelope (`envelope`): the same bytes on every attempt of a delivery and in a replay.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpcore
import httpx
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.channels import limits
from campaigns.channels.webhook import sign
from scrm import events
from webhooks.models import ERROR_MAX, Delivery, Subscription
from webhooks.services import notices, urls

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
SUBSCRIPTION = Subscription._meta.db_table
BATCH = 200  # deliveries a round claims
BACKOFF_MAX = 3600  # seconds; the first retry after SIYU_WEBHOOK_RETRY_BASE (30 s), doubling
RETRY_WINDOW = dt.timedelta(hours=24)  # since the delivery was created
FAILING_PAUSE = dt.timedelta(hours=24)  # failing with no success this long: the subscription is paused
BODY_CHARS = 200  # of a refusal's body, kept with its status
READ_LIMIT = 4096  # bytes of an answer read at most
USER_AGENT = "siyu-webhook"
SIGNATURE_HEADER = "Siyu-Signature"


def lease_seconds() -> float:
    return float(getattr(settings, "SIYU_WEBHOOK_LEASE_SECONDS", 60))


def concurrency() -> int:
    return int(getattr(settings, "SIYU_WEBHOOK_CONCURRENCY", 16))


def backoff(attempts: int) -> dt.timedelta:
    """The campaigns engine's shape: base, twice that, four times ... at most an hour."""
    base = float(getattr(settings, "SIYU_WEBHOOK_RETRY_BASE", 30))
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


# --- the envelope ---------------------------------------------------------------------------------


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(*, event_id: int, event_type: str, occurred_at: dt.datetime, member_id: int | None,
             store_id: int | None, data: dict) -> bytes:
    """The body of every delivery and replay of one event (the same bytes each time)."""
    body = {
        "id": event_id, "type": event_type, "occurred_at": _timestamp(occurred_at),
        "member": {"id": member_id} if member_id is not None else None,
        "store": {"id": store_id} if store_id is not None else None,
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def envelope_of(event) -> bytes:
    """The envelope of a scrm.models.Event."""
    return envelope(event_id=event.pk, event_type=event.type, occurred_at=event.occurred_at,
                    member_id=event.member_id, store_id=event.store_id, data=event.data)


def signing_secrets(subscription, *, now: dt.datetime | None = None) -> tuple[str, ...]:
    """The secrets a request is signed with: the subscription's, and the previous one while a
    rotation's overlap lasts."""
    now = now or timezone.now()
    return _secrets(subscription.secret, subscription.previous_secret, subscription.previous_secret_until, now)


def _secrets(secret: str, previous: str, until: dt.datetime | None, now: dt.datetime) -> tuple[str, ...]:
    return (secret, previous) if previous and until is not None and until > now else (secret,)


def headers(*, event_id: int, event_type: str, attempt: int, body: bytes, secrets: tuple[str, ...],
            at: int | None = None) -> dict[str, str]:
    """The request's headers; Siyu-Signature carries one v1= per secret (campaigns.channels.webhook.sign)."""
    at = int(time.time()) if at is None else at
    signature = sign(secrets[0], body, at)
    for secret in secrets[1:]:
        signature += ",v1=" + sign(secret, body, at).partition(",v1=")[2]
    return {
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        "Siyu-Event-Id": str(event_id), "Siyu-Event-Type": event_type, "Siyu-Delivery-Attempt": str(attempt),
        "Idempotency-Key": f"siyu-event-{event_id}", SIGNATURE_HEADER: signature,
    }


# --- the HTTP client ------------------------------------------------------------------------------

_local: dict[tuple, object] = {}
_local_lock = threading.Lock()


def client() -> httpx.Client:
    """One pooled client per process (a new one after a fork, or when its settings change)."""
    return _per_process("client", (settings.SIYU_WEBHOOK_TIMEOUT, concurrency()), _new_client)


def pool() -> ThreadPoolExecutor:
    """The threads a round posts with, one pool per process."""
    return _per_process("pool", concurrency(),
                        lambda: ThreadPoolExecutor(max_workers=concurrency(), thread_name_prefix="webhook"))


def _new_client() -> httpx.Client:
    """A client whose connections go through urls.GuardedBackend (each address checked as it is connected
    to); no proxy from the environment, so the check is of the receiver's own address."""
    timeout = float(settings.SIYU_WEBHOOK_TIMEOUT)
    size = concurrency() * 2
    transport = httpx.HTTPTransport()
    transport._pool = httpcore.ConnectionPool(  # httpx has no public way to give the pool its network backend
        ssl_context=httpx.create_ssl_context(), max_connections=size, max_keepalive_connections=size,
        network_backend=urls.GuardedBackend(),
    )
    return httpx.Client(
        transport=transport, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


def _per_process(name: str, signature, make):
    key = (name, os.getpid(), signature)
    found = _local.get(key)
    if found is None:
        with _local_lock:
            found = _local.get(key)
            if found is None:
                for stale in [k for k in _local if k[0] == name]:
                    old = _local.pop(stale)
                    if stale[1] != os.getpid():
                        continue  # inherited through a fork: the parent's to close
                    if isinstance(old, httpx.Client):
                        old.close()
                    else:
                        old.shutdown(wait=False)
                found = _local[key] = make()
    return found


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (timeout, connection error)
    error: str = ""
    retry_after: float | None = None
    refused: bool = False  # not sent: the receiver's address is one Siyu does not post to


def post(url: str, body: bytes, request_headers: dict[str, str]) -> Answer:
    """One request through the pooled client; reads at most READ_LIMIT bytes of the answer."""
    try:
        with client().stream("POST", url, content=body, headers=request_headers) as response:
            status = response.status_code
            if 200 <= status < 300:
                return Answer(status)
            chunk = b""
            for part in response.iter_bytes():
                chunk += part
                if len(chunk) >= READ_LIMIT:
                    break
            text = chunk[:READ_LIMIT].decode("utf-8", "replace").strip()
            error = f"HTTP {status}: {text}"[:BODY_CHARS]
            wait = limits.retry_after(response.headers) if status == 429 else None
            return Answer(status, error, wait)
    except httpx.HTTPError as exc:  # timeouts, refused connections, a bad URL: no answer
        if isinstance(exc.__cause__, urls.Refused):
            return Answer(None, f"{gettext('Not sent')}: {exc}"[:BODY_CHARS], refused=True)
        return Answer(None, f"{type(exc).__name__}: {exc}"[:BODY_CHARS])


# --- one round --------------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: int
    attempts: int
    created_at: dt.datetime
    subscription_id: int
    url: str
    secrets: tuple[str, ...]
    rate: int
    event_id: int
    event_type: str
    occurred_at: dt.datetime
    member_id: int | None
    store_id: int | None
    data: dict

    def body(self) -> bytes:
        return envelope(event_id=self.event_id, event_type=self.event_type, occurred_at=self.occurred_at,
                        member_id=self.member_id, store_id=self.store_id, data=self.data)


@dataclass
class Outcome:
    claimed: Claimed
    state: str  # delivered, retry, parked, gone, refused (the address), skipped (the rate, the round's time)
    answer: Answer = field(default_factory=lambda: Answer(None))
    at: dt.datetime = field(default_factory=timezone.now)
    wait: float = 0.0  # for skipped: seconds until it may be tried


@dataclass
class Round:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    parked: int = 0
    skipped: int = 0
    paused: list[int] = field(default_factory=list)

    def add(self, other: Round) -> None:
        for name in ("claimed", "delivered", "retried", "parked", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused.extend(other.paused)


def claim(*, batch: int = BATCH, lease: float | None = None) -> list[Claimed]:
    """Lease up to `batch` due heads of their queues (one statement, SKIP LOCKED)."""
    now = timezone.now()
    until = now + dt.timedelta(seconds=lease if lease is not None else lease_seconds())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT d.id, d.next_attempt_at FROM {SUBSCRIPTION} s CROSS JOIN LATERAL (
                    SELECT d.id, d.next_attempt_at FROM {DELIVERY} d
                    WHERE d.subscription_id = s.id AND d.state = 'pending' AND d.next_attempt_at <= %(now)s
                      AND (d.leased_until IS NULL OR d.leased_until <= %(now)s)
                      AND (d.member_id IS NULL OR NOT EXISTS (
                          SELECT 1 FROM {DELIVERY} p WHERE p.subscription_id = d.subscription_id
                          AND p.member_id = d.member_id AND p.state = 'pending' AND p.id < d.id))
                    ORDER BY d.next_attempt_at, d.id LIMIT %(batch)s
                    FOR UPDATE SKIP LOCKED
                ) d
                WHERE s.state = 'active'
                ORDER BY d.next_attempt_at, d.id LIMIT %(batch)s
            )
            UPDATE {DELIVERY} d SET attempts = d.attempts + 1, leased_until = %(until)s, next_attempt_at = %(until)s
            FROM due, {SUBSCRIPTION} s, {events.EVENT} e
            WHERE d.id = due.id AND s.id = d.subscription_id AND e.id = d.event_id
            RETURNING d.id, d.attempts, d.created_at, s.id, s.url, s.secret, s.previous_secret,
                      s.previous_secret_until, s.rate, e.id, e.type, e.occurred_at, e.member_id, e.store_id,
                      e.data::text
            """,
            {"now": now, "until": until, "batch": batch},
        )
        rows = cursor.fetchall()
    claimed = []
    for (pk, attempts, created, sub_id, url, secret, previous, previous_until, rate, event_id, event_type,
         occurred_at, member_id, store_id, data) in sorted(rows):
        secrets = _secrets(secret, previous, previous_until, now)
        claimed.append(Claimed(pk, attempts, created, sub_id, url, secrets, rate, event_id, event_type, occurred_at,
                               member_id, store_id, json.loads(data)))
    return claimed


def _send_one(item: Claimed, bucket: limits.Bucket, deadline: float) -> Outcome:
    if time.monotonic() > deadline:
        return Outcome(item, "skipped")
    try:
        bucket.take()
    except limits.RateLimited as exc:
        return Outcome(item, "skipped", wait=exc.retry_after)
    except redis.RedisError as exc:
        return Outcome(item, "skipped", Answer(None, f"rate limiter unavailable: {exc}"[:BODY_CHARS]), wait=1.0)
    try:
        body = item.body()
        answer = post(item.url, body, headers(event_id=item.event_id, event_type=item.event_type,
                                              attempt=item.attempts, body=body, secrets=item.secrets))
    except Exception as exc:  # noqa: BLE001 - a request that could not even be made is retried, then parked
        logger.exception("webhooks: delivery %s could not be posted", item.id)
        answer = Answer(None, f"{type(exc).__name__}: {exc}"[:BODY_CHARS])
    status = answer.status
    if answer.refused:
        state = "refused"
    elif status is not None and 200 <= status < 300:
        state = "delivered"
    elif status == 410:
        state = "gone"
    elif status is None or status in (408, 429) or status >= 500:
        state = "retry"
        if status == 429:
            bucket.pause(answer.retry_after or 1.0)
    else:
        state = "parked"
    return Outcome(item, state, answer, timezone.now())


def _bucket(subscription_id: int, rate: int) -> limits.Bucket:
    return limits.Bucket(f"webhook-subscription-{subscription_id}", rate=rate, max_wait=max(1.0, 2.0 / rate))


def post_all(claimed: list[Claimed], *, seconds: float | None = None) -> list[Outcome]:
    """Post a claim with bounded concurrency; none starts after `seconds` (half the lease)."""
    deadline = time.monotonic() + (seconds if seconds is not None else lease_seconds() / 2)
    buckets = {item.subscription_id: _bucket(item.subscription_id, item.rate) for item in claimed}
    futures = [pool().submit(_send_one, item, buckets[item.subscription_id], deadline) for item in claimed]
    return [future.result() for future in futures]


def _row(outcome: Outcome) -> tuple:
    """(state, undo, next_attempt_at, status, error, delivered_at, latency_ms) of one outcome."""
    item, answer, at = outcome.claimed, outcome.answer, outcome.at
    error = answer.error[:ERROR_MAX]
    if outcome.state == "skipped":
        return "pending", 1, at + dt.timedelta(seconds=outcome.wait), None, error, None, None
    if outcome.state == "refused":  # not attempted; it waits while its subscription is paused
        return "pending", 1, at, None, error, None, None
    if outcome.state == "delivered":
        latency = max(int((at - item.occurred_at).total_seconds() * 1000), 0)
        return "delivered", 0, at, answer.status, "", at, min(latency, 2**31 - 1)
    if outcome.state == "retry" and at < item.created_at + RETRY_WINDOW:
        wait = dt.timedelta(seconds=answer.retry_after) if answer.retry_after is not None else backoff(item.attempts)
        return "pending", 0, at + wait, answer.status, error, None, None
    return "parked", 0, at, answer.status, error, None, None


def write_back(outcomes: list[Outcome]) -> Round:
    """Every answer in one UPDATE (only rows still under this claim: same attempt, still pending), then
    the subscriptions' failing state, pausing those that answered 410 or kept failing."""
    done = Round(claimed=len(outcomes))
    if not outcomes:
        return done
    rows = [_row(o) for o in outcomes]
    columns = list(zip(*rows, strict=True))
    now = timezone.now()
    ok: dict[int, bool] = {}
    gone: set[int] = set()
    refused: dict[int, str] = {}
    for outcome, row in zip(outcomes, rows, strict=True):
        sub = outcome.claimed.subscription_id
        if outcome.state in ("skipped", "refused"):
            done.skipped += 1
            if outcome.state == "refused":
                refused[sub] = outcome.answer.error
            continue
        if outcome.state == "delivered":
            done.delivered += 1
        elif row[0] == "pending":
            done.retried += 1
        else:
            done.parked += 1
        gone.update([sub] if outcome.state == "gone" else [])
        ok[sub] = ok.get(sub, False) or outcome.state == "delivered"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DELIVERY} d SET state = k.state, attempts = d.attempts - k.undo, next_attempt_at = k.next_at,
                leased_until = NULL,
                last_status = CASE WHEN k.undo = 1 THEN d.last_status ELSE k.status END,
                last_error = CASE WHEN k.undo = 1 AND k.error = '' THEN d.last_error ELSE k.error END,
                delivered_at = k.delivered_at, latency_ms = k.latency
            FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::int[], %s::timestamptz[], %s::int[], %s::text[],
                        %s::timestamptz[], %s::int[]) AS k(id, attempts, state, undo, next_at, status, error,
                                                          delivered_at, latency)
            WHERE d.id = k.id AND d.attempts = k.attempts AND d.state = 'pending'
            """,
            [[o.claimed.id for o in outcomes], [o.claimed.attempts for o in outcomes], *map(list, columns)],
        )
        waiting = [(o.claimed, row[2]) for o, row in zip(outcomes, rows, strict=True)
                   if o.state == "retry" and row[0] == "pending" and o.claimed.member_id is not None]
        if waiting:  # the member's later deliveries cannot go before it: out of the claim's way till then
            cursor.execute(
                f"""
                UPDATE {DELIVERY} d SET next_attempt_at = k.next_at
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[]) AS k(sub, member, id, next_at)
                WHERE d.subscription_id = k.sub AND d.member_id = k.member AND d.state = 'pending' AND d.id > k.id
                  AND d.next_attempt_at < k.next_at AND d.leased_until IS NULL
                """,
                [[c.subscription_id for c, _ in waiting], [c.member_id for c, _ in waiting],
                 [c.id for c, _ in waiting], [at for _, at in waiting]],
            )
        if ok:
            cursor.execute(
                f"""
                UPDATE {SUBSCRIPTION} s SET failing_since = CASE WHEN k.ok THEN NULL
                    ELSE coalesce(s.failing_since, %s) END
                FROM unnest(%s::bigint[], %s::bool[]) AS k(id, ok)
                WHERE s.id = k.id AND (CASE WHEN k.ok THEN NULL ELSE coalesce(s.failing_since, %s) END)
                      IS DISTINCT FROM s.failing_since
                """,
                [now, list(ok), list(ok.values()), now],
            )
        done.paused = _pause(gone=sorted(gone), failing=sorted(s for s, good in ok.items() if not good),
                             refused=refused, now=now)
    return done


def _pause(*, gone: list[int], failing: list[int], refused: dict[int, str] | None = None,
           now: dt.datetime) -> list[int]:
    paused = []
    reasons = [
        (gone, gettext("the receiver answered 410 Gone"), None),
        (failing, gettext("every delivery failed for %(hours)d hours") % {
            "hours": int(FAILING_PAUSE.total_seconds() // 3600)}, now - FAILING_PAUSE),
        *(([sub], reason, None) for sub, reason in sorted((refused or {}).items())),
    ]
    for ids, reason, failing_before in reasons:
        if not ids:
            continue
        found = Subscription.objects.filter(pk__in=ids, state="active")
        if failing_before is not None:
            found = found.filter(failing_since__lte=failing_before)
        for subscription in found.select_related("api_key__created_by").select_for_update(of=("self",)):
            subscription.state, subscription.paused_reason, subscription.paused_at = "paused", reason[:ERROR_MAX], now
            subscription.save(update_fields=["state", "paused_reason", "paused_at", "updated_at"])
            notices.subscription_paused(subscription)
            paused.append(subscription.pk)
    return paused


def send_due(*, batch: int = BATCH, lease: float | None = None) -> Round:
    """One round: claim, post, write back; call it outside a transaction, so no lock waits for the posts."""
    lease = lease if lease is not None else lease_seconds()
    claimed = claim(batch=batch, lease=lease)
    if not claimed:
        return Round()
    return write_back(post_all(claimed, seconds=lease / 2))


def run(*, seconds: float = 8.0, batch: int = BATCH, idle: float = 0.5) -> Round:
    """Rounds until nothing is due (after waiting `idle` once for more) or `seconds` have passed."""
    total, deadline, waited = Round(), time.monotonic() + seconds, False
    while time.monotonic() < deadline:
        done = send_due(batch=batch)
        total.add(done)
        if done.claimed:
            waited = False
            continue
        if waited:
            break
        waited = True
        time.sleep(idle)
    return total
