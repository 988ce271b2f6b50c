"""Subscriptions: an integration's wish to hear event types at a URL, and what it does with its
deliveries (ping, send parked ones again, replay from a point).

Who may: an operator's session manages every integration's subscriptions; an API key with
webhooks:write manages its own only (another key's is not found). A subscription hears only the
types its key's scopes may read, and a store-bound key's subscription is limited to its store
whatever is asked. The signing secret is made here and shown once: on create and on rotate; the
previous secret keeps signing beside the new one for ROTATION_OVERLAP, so a receiver can switch
without losing a request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from scrm import events, permissions
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.models import ApiKey, Event, Store, User
from scrm.scoping import access_for
from scrm.services import audit
from webhooks.models import ERROR_MAX, Delivery, DeliveryState, Subscription, SubscriptionState, new_secret
from webhooks.services.urls import refuse_reason

RESOURCE = "webhooks"
ROTATION_OVERLAP = dt.timedelta(hours=24)
NOT_SUBSCRIBABLE = ("ping",)  # sent on request to one subscription, never fanned out
MAX_SUBSCRIPTIONS_PER_KEY = 50
MAX_TYPES = 100
MAX_REDELIVER_IDS = 1000
MAX_REDELIVER = 100_000  # parked deliveries sent again by one request
MAX_REPLAY = 1_000_000  # events one replay may queue
DELIVERY = Delivery._meta.db_table


@dataclass(frozen=True)
class Created:
    subscription: Subscription
    secret: str  # shown once


@dataclass(frozen=True)
class Replayed:
    requeued: int  # deliveries it had, pending again
    created: int  # events it never got, now queued


# --- who may ------------------------------------------------------------------------------------


def can_manage(actor) -> bool:
    return permissions.can_write(actor, RESOURCE)


def _require(actor) -> None:
    permissions.require_write(actor, RESOURCE)


def _own_key(actor) -> ApiKey | None:
    return getattr(actor, "api_key", None)


def _check_owner(actor, subscription: Subscription) -> None:
    """A key reaches its own subscriptions only; another's is not found (as across stores)."""
    _require(actor)
    key = _own_key(actor)
    if key is not None and subscription.api_key_id != key.pk:
        raise NotInScope()
    if not access_for(actor).allows_store(subscription.store_id):
        raise NotInScope()


def _audit(actor, action: str, subscription: Subscription, **detail) -> None:
    audit.record(actor=actor, action=f"webhook.{action}", obj=subscription, store_id=subscription.store_id,
                 detail={"name": subscription.name, "api_key": subscription.api_key_id, **detail})


# --- checks -------------------------------------------------------------------------------------


def subscribable_types() -> dict[str, events.EventType]:
    return {code: kind for code, kind in sorted(events.types().items()) if code not in NOT_SUBSCRIBABLE}


def type_scope(kind: events.EventType) -> str:
    return f"{kind.resource}:read"


def _check_types(event_types, key: ApiKey) -> list[str]:
    if not isinstance(event_types, list | tuple) or not event_types:
        raise InvalidInput(_("Choose at least one event type."),
                           details={"event_types": [_("Choose at least one event type.")]})
    if len(event_types) > MAX_TYPES:
        raise InvalidInput(details={"event_types": [_("At most %(max)d event types.") % {"max": MAX_TYPES}]})
    known = subscribable_types()
    wanted = sorted({str(code) for code in event_types})
    unknown = [code for code in wanted if code not in known]
    if unknown:
        message = _("Unknown event type(s): %(types)s.") % {"types": get_text_list(unknown, _("and"))}
        raise InvalidInput(message, details={"event_types": [message], "unknown": unknown})
    held = set(key.scopes)
    missing = {code: type_scope(known[code]) for code in wanted if type_scope(known[code]) not in held}
    if missing:
        scopes = sorted(set(missing.values()))
        message = _("The integration %(key)s may not hear %(types)s: its key lacks the scope %(scopes)s.") % {
            "key": key.name, "types": get_text_list(sorted(missing), _("and")),
            "scopes": get_text_list(scopes, _("and"))}
        raise InvalidInput(message, details={"event_types": [message], "scopes": scopes})
    return wanted


def _check_url(url) -> str:
    url = (url or "").strip() if isinstance(url, str) else ""
    reason = refuse_reason(url)
    if reason:
        raise InvalidInput(reason, details={"url": [reason]})
    return url


def _check_name(name) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidInput(_("A subscription needs a name."), details={"name": [_("A subscription needs a name.")]})
    if len(name) > 100:
        raise InvalidInput(details={"name": [_("At most 100 characters.")]})
    return name


def _check_store(store: Store | None, key: ApiKey) -> Store | None:
    """A store-bound key's subscription is its store's, whatever is asked."""
    if key.store_id is None:
        return store
    if store is not None and store.pk != key.store_id:
        message = _("The integration %(key)s is limited to store %(store)s; a subscription cannot hear another.") % {
            "key": key.name, "store": key.store.code}
        raise InvalidInput(message, details={"store": [message]})
    return key.store


def _check_key(actor, api_key: ApiKey | None) -> ApiKey:
    own = _own_key(actor)
    if own is not None:
        if api_key is not None and api_key.pk != own.pk:
            message = _("An integration subscribes for itself; leave out api_key or name your own key.")
            raise InvalidInput(message, details={"api_key": [message]})
        return own
    if api_key is None:
        raise InvalidInput(_("Choose the integration that subscribes."),
                           details={"api_key": [_("Choose the integration that subscribes.")]})
    if api_key.revoked_at is not None or (api_key.expires_at is not None and api_key.expires_at <= timezone.now()):
        message = _("The integration %(key)s has a revoked or expired key.") % {"key": api_key.name}
        raise InvalidInput(message, details={"api_key": [message]})
    return api_key


# --- writes -------------------------------------------------------------------------------------


@transaction.atomic
def create_subscription(*, actor, name: str, url: str, event_types, store: Store | None = None,
                        api_key: ApiKey | None = None) -> Created:
    """A new active subscription with a fresh signing secret (in the answer only this once)."""
    _require(actor)
    key = _check_key(actor, api_key)
    ApiKey.objects.select_for_update().filter(pk=key.pk).first()  # one count per key at a time
    if Subscription.objects.filter(api_key=key).count() >= MAX_SUBSCRIPTIONS_PER_KEY:
        raise Conflict(_("The integration %(key)s has %(max)d subscriptions already, the most it may have.")
                       % {"key": key.name, "max": MAX_SUBSCRIPTIONS_PER_KEY})
    values = {"name": _check_name(name), "url": _check_url(url), "event_types": _check_types(event_types, key),
              "store": _check_store(store, key)}
    secret = new_secret()
    subscription = Subscription.objects.create(
        api_key=key, secret=secret, created_by=actor if isinstance(actor, User) else None, **values)
    _audit(actor, "subscribe", subscription, url=subscription.url, event_types=subscription.event_types)
    return Created(subscription, secret)


_UNSET = object()


@transaction.atomic
def update_subscription(*, actor, subscription: Subscription, name=_UNSET, url=_UNSET, event_types=_UNSET,
                        store=_UNSET) -> Subscription:
    """Change what a subscription hears and where; what is left out stays."""
    _check_owner(actor, subscription)
    subscription = (Subscription.objects.select_for_update(of=("self",)).select_related("api_key__store")
                    .get(pk=subscription.pk))
    key = subscription.api_key
    if name is not _UNSET:
        subscription.name = _check_name(name)
    if url is not _UNSET:
        subscription.url = _check_url(url)
    if event_types is not _UNSET:
        subscription.event_types = _check_types(event_types, key)
    if store is not _UNSET:
        subscription.store = _check_store(store, key)
    subscription.save()
    _audit(actor, "update", subscription, url=subscription.url, event_types=subscription.event_types)
    return subscription


@transaction.atomic
def rotate_secret(*, actor, subscription: Subscription, now: dt.datetime | None = None) -> str:
    """A new signing secret (returned once); the one it replaces keeps signing beside it for 24 hours."""
    _check_owner(actor, subscription)
    now = now or timezone.now()
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    secret = new_secret()
    subscription.previous_secret, subscription.previous_secret_until = subscription.secret, now + ROTATION_OVERLAP
    subscription.secret = secret
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    _audit(actor, "rotate_secret", subscription, overlap_until=subscription.previous_secret_until.isoformat())
    return secret


@transaction.atomic
def pause(*, actor, subscription: Subscription, reason: str = "") -> Subscription:
    """Stop sending; deliveries wait (they are not parked) until it is resumed. Pausing twice is one pause."""
    _check_owner(actor, subscription)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.state == SubscriptionState.PAUSED:
        return subscription
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    subscription.state = SubscriptionState.PAUSED
    subscription.paused_reason = (reason or _("paused by %(who)s") % {"who": _who(actor)})[:ERROR_MAX]
    subscription.paused_at = timezone.now()
    subscription.save(update_fields=["state", "paused_reason", "paused_at", "updated_at"])
    _audit(actor, "pause", subscription, reason=subscription.paused_reason)
    return subscription


@transaction.atomic
def resume(*, actor, subscription: Subscription) -> Subscription:
    """Send again: waiting deliveries flow, the failing clock starts afresh. Resuming twice is one resume."""
    _check_owner(actor, subscription)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.state == SubscriptionState.ACTIVE and subscription.failing_since is None:
        return subscription
    subscription.state = SubscriptionState.ACTIVE
    subscription.paused_reason, subscription.paused_at, subscription.failing_since = "", None, None
    subscription.save(update_fields=["state", "paused_reason", "paused_at", "failing_since", "updated_at"])
    _audit(actor, "resume", subscription)
    return subscription


@transaction.atomic
def delete_subscription(*, actor, subscription: Subscription) -> None:
    """The subscription and its deliveries go; the events stay in the log."""
    _check_owner(actor, subscription)
    _audit(actor, "delete", subscription, url=subscription.url)
    Subscription.objects.filter(pk=subscription.pk).delete()


def _who(actor) -> str:
    key = _own_key(actor)
    return key.name if key is not None else (getattr(actor, "display_name", "") or str(actor))


# --- deliveries ---------------------------------------------------------------------------------


@transaction.atomic
def ping(*, actor, subscription: Subscription) -> Delivery:
    """A test event for this subscription alone: one "ping" event (never fanned out) and its one
    delivery, which the sender posts like any other."""
    _check_owner(actor, subscription)
    if subscription.state != SubscriptionState.ACTIVE:
        raise Conflict(_("The subscription is paused; resume it to send a ping."))
    now = timezone.now()
    event = Event.objects.create(type="ping", occurred_at=now, member_id=None, store_id=subscription.store_id,
                                 data={"subscription": {"id": subscription.pk}}, relayed=True)
    return Delivery.objects.create(subscription=subscription, event=event, member_id=None,
                                   state=DeliveryState.PENDING, next_attempt_at=now, created_at=now)


def _ids(ids) -> list[int]:
    if not isinstance(ids, list | tuple) or not ids:
        raise InvalidInput(details={"ids": [_("A non-empty list of delivery ids.")]})
    if len(ids) > MAX_REDELIVER_IDS:
        raise InvalidInput(details={"ids": [_("At most %(max)d ids at once.") % {"max": MAX_REDELIVER_IDS}]})
    bad = [str(i)[:20] for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i < 2**63]
    if bad:
        raise InvalidInput(details={"ids": [_("Not delivery ids: %(ids)s.") % {"ids": ", ".join(bad[:10])}]})
    return sorted(set(ids))


@transaction.atomic
def redeliver(*, actor, subscription: Subscription, ids=None) -> int:
    """Parked deliveries of this subscription (all, or the `ids` named) pending again, their attempts
    and retry window starting afresh; in one UPDATE, at most MAX_REDELIVER. Returns how many."""
    _check_owner(actor, subscription)
    chosen = None if ids is None else _ids(ids)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {DELIVERY} d SET state = 'pending', attempts = 0, next_attempt_at = %(now)s,
                    leased_until = NULL, created_at = %(now)s
                WHERE d.id IN (SELECT id FROM {DELIVERY} WHERE subscription_id = %(sub)s AND state = 'parked'
                               AND (%(all)s OR id = ANY(%(ids)s)) ORDER BY id LIMIT %(max)s)""",
            {"now": now, "sub": subscription.pk, "all": chosen is None, "ids": chosen or [], "max": MAX_REDELIVER},
        )
        count = cursor.rowcount
    _audit(actor, "redeliver", subscription, count=count, ids=chosen[:50] if chosen else None)
    return count


def _replay_point(*, after_id, since, now: dt.datetime) -> tuple[str, list]:
    if (after_id is None) == (since is None):
        message = _("Give either after (an event id) or since (a time), not both.")
        raise InvalidInput(message, details={"after": [message], "since": [message]})
    cutoff = now - dt.timedelta(days=settings.SIYU_EVENT_RETENTION_DAYS)
    if since is not None:
        if not isinstance(since, dt.datetime) or timezone.is_naive(since):
            raise InvalidInput(details={"since": [_("A time with its offset, such as 2026-12-03T10:00:00Z.")]})
        if since < cutoff:
            message = _("Events are kept %(days)d days: since must be after %(cutoff)s.") % {
                "days": settings.SIYU_EVENT_RETENTION_DAYS, "cutoff": cutoff.isoformat(timespec="seconds")}
            raise InvalidInput(message, details={"since": [message]})
        return "e.occurred_at >= %(point)s", [since]
    if isinstance(after_id, bool) or not isinstance(after_id, int) or not 0 <= after_id < 2**63:
        raise InvalidInput(details={"after": [_("An event id (a whole number, 0 for every kept event).")]})
    return "e.id > %(point)s", [after_id]


def heard_types(subscription: Subscription) -> list[str]:
    """The subscription's types its key may still hear."""
    held = set(subscription.api_key.scopes)
    known = subscribable_types()
    return sorted(code for code in subscription.event_types if code in known and type_scope(known[code]) in held)


@transaction.atomic
def replay(*, actor, subscription: Subscription, after_id: int | None = None,
           since: dt.datetime | None = None) -> Replayed:
    """Queue again every kept event after an id (or since a time) that this subscription may hear:
    its existing deliveries pending again, new deliveries for events it never got. One statement;
    more than MAX_REPLAY events is refused (replay from a later point)."""
    _check_owner(actor, subscription)
    subscription = Subscription.objects.select_related("api_key").get(pk=subscription.pk)
    now = timezone.now()
    condition, (point,) = _replay_point(after_id=after_id, since=since, now=now)
    store_id = subscription.store_id or subscription.api_key.store_id
    params = {"point": point, "types": heard_types(subscription), "store": store_id, "now": now,
              "sub": subscription.pk, "over": MAX_REPLAY + 1}
    chosen = (f"FROM {events.EVENT} e WHERE {condition} AND e.type = ANY(%(types)s) "
              f"AND (%(store)s::bigint IS NULL OR e.store_id = %(store)s)")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 {chosen} LIMIT %(over)s) q", params)
        (count,) = cursor.fetchone()
        if count > MAX_REPLAY:
            message = _("More than %(max)s events to replay; replay from a later point.") % {
                "max": f"{MAX_REPLAY:,}"}
            raise InvalidInput(message, details={"after" if after_id is not None else "since": [message]})
        cursor.execute(
            f"""WITH queued AS (
                    INSERT INTO {DELIVERY} (subscription_id, event_id, member_id, state, attempts, next_attempt_at,
                                            last_error, created_at)
                    SELECT %(sub)s, e.id, e.member_id, 'pending', 0, %(now)s, '', %(now)s {chosen} ORDER BY e.id
                    ON CONFLICT (subscription_id, event_id) DO UPDATE SET state = 'pending', attempts = 0,
                        next_attempt_at = EXCLUDED.next_attempt_at, leased_until = NULL,
                        created_at = EXCLUDED.created_at, delivered_at = NULL, latency_ms = NULL
                    RETURNING (xmax = 0) AS inserted)
                SELECT count(*) FILTER (WHERE NOT inserted), count(*) FILTER (WHERE inserted) FROM queued""",
            params,
        )
        requeued, created = cursor.fetchone()
    _audit(actor, "replay", subscription, after=after_id, since=since.isoformat() if since else None,
           requeued=requeued, created=created)
    return Replayed(requeued=requeued, created=created)
