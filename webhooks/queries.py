"""Read side of webhooks: each subscription's figures and the event log's replay read.

Figures come from one grouped statement over the subscriptions' deliveries (the (subscription,
state, id) index), bounded by a statement timeout; the replay read is a keyset page of the events
an actor may hear, in id order, each as the envelope deliveries carry.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm import permissions
from scrm.errors import Forbidden, InvalidInput
from scrm.models import Event
from scrm.scoping import access_for, scope
from webhooks.models import Delivery, Subscription
from webhooks.services import sending
from webhooks.services.subscriptions import subscribable_types, type_scope

DELIVERY = Delivery._meta.db_table
FIGURES_TIMEOUT_MS = 5000
MAX_FIGURES = 200  # subscriptions per call
MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class Figures:
    delivered: int = 0
    retrying: int = 0  # pending after a failed attempt
    waiting: int = 0  # pending with no failed attempt: not tried yet, or being sent now
    parked: int = 0
    p95_ms_24h: int | None = None
    p95_ms_7d: int | None = None
    last_success_at: dt.datetime | None = None
    last_failure_status: int | None = None
    last_failure_error: str = ""
    last_failure_delivery: int | None = None

    def as_dict(self) -> dict:
        return {
            "delivered": self.delivered, "retrying": self.retrying, "waiting": self.waiting, "parked": self.parked,
            "p95_latency_ms": {"24h": self.p95_ms_24h, "7d": self.p95_ms_7d},
            "last_success_at": self.last_success_at,
            "last_failure": None if self.last_failure_delivery is None else {
                "delivery": {"id": self.last_failure_delivery}, "status": self.last_failure_status,
                "error": self.last_failure_error},
        }


def figures(subscription_ids, *, now: dt.datetime | None = None) -> dict[int, Figures]:
    """Figures of each subscription (ids already scoped by the caller), in two statements."""
    ids = sorted({int(i) for i in subscription_ids})[:MAX_FIGURES]
    if not ids:
        return {}
    now = now or timezone.now()
    found: dict[int, Figures] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {FIGURES_TIMEOUT_MS}")
        cursor.execute(
            f"""SELECT subscription_id,
                    count(*) FILTER (WHERE state = 'delivered'),
                    count(*) FILTER (WHERE state = 'pending' AND (last_status IS NOT NULL OR last_error <> '')),
                    count(*) FILTER (WHERE state = 'pending' AND last_status IS NULL AND last_error = ''),
                    count(*) FILTER (WHERE state = 'parked'),
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms)
                        FILTER (WHERE state = 'delivered' AND delivered_at >= %(day)s),
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms)
                        FILTER (WHERE state = 'delivered' AND delivered_at >= %(week)s),
                    max(delivered_at)
                FROM {DELIVERY} WHERE subscription_id = ANY(%(ids)s) GROUP BY subscription_id""",
            {"ids": ids, "day": now - dt.timedelta(hours=24), "week": now - dt.timedelta(days=7)},
        )
        counts = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(
            f"""SELECT s.id, f.id, f.last_status, f.last_error FROM unnest(%(ids)s::bigint[]) AS s(id)
                JOIN LATERAL (
                    SELECT d.id, d.last_status, d.last_error FROM {DELIVERY} d
                    WHERE d.subscription_id = s.id AND d.state IN ('pending', 'parked') AND d.attempts > 0
                      AND (d.last_status IS NOT NULL OR d.last_error <> '')
                    ORDER BY d.id DESC LIMIT 1) f ON true""",
            {"ids": ids},
        )
        failures = {row[0]: row[1:] for row in cursor.fetchall()}
    for pk in ids:
        c = counts.get(pk)
        f = failures.get(pk)
        found[pk] = Figures(
            *(c if c else (0, 0, 0, 0, None, None, None)),
            last_failure_delivery=f[0] if f else None, last_failure_status=f[1] if f else None,
            last_failure_error=f[2] if f else "",
        )
    return found


def subscriptions_for(actor):
    """The subscriptions `actor` reaches: an operator's session every one (in its stores), a key its own."""
    queryset = scope(Subscription.objects.select_related("api_key", "store"), actor)
    key = getattr(actor, "api_key", None)
    return queryset.filter(api_key=key) if key is not None else queryset


def paused_subscriptions(actor, *, limit: int = 20) -> list[Subscription]:
    """Paused subscriptions and why, newest pause first (the overview's notice)."""
    return list(subscriptions_for(actor).filter(state="paused").order_by("-paused_at", "-id")[:limit])


# --- the replay read ----------------------------------------------------------------------------


def hearable_types(actor) -> dict[str, str]:
    """Type code -> the read scope it needs, for the types `actor`'s scopes let it hear."""
    held = permissions.scopes_of(actor)
    return {code: type_scope(kind) for code, kind in subscribable_types().items() if type_scope(kind) in held}


@dataclass(frozen=True)
class Page:
    results: list[dict]
    next: int | None  # the last id: ask again with after=next


def _wanted_types(actor, types: list[str] | None) -> list[str]:
    allowed = hearable_types(actor)
    if not types:
        return sorted(allowed)
    known = subscribable_types()
    unknown = sorted(set(types) - set(known))
    if unknown:
        raise InvalidInput(details={"types": [_("Unknown event type(s): %(types)s.") % {"types": ", ".join(unknown)}]})
    refused = sorted({type_scope(known[t]) for t in types if t not in allowed})
    if refused:
        raise Forbidden(_("Reading these event types needs the scope %(scopes)s.") % {"scopes": ", ".join(refused)},
                        details={"types": sorted(t for t in types if t not in allowed), "scope": refused})
    return sorted(set(types))


def event_page(actor, *, after: int | None = None, since: dt.datetime | None = None, types: list[str] | None = None,
               limit: int = DEFAULT_PAGE) -> Page:
    """The events `actor` may hear after event id `after` (or from `since` on), in id order: types its
    scopes allow, its store when it is bound to one. `next` is the page's last id (None when empty)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(details={"limit": [_("A whole number from 1 to %(max)d.") % {"max": MAX_PAGE}]})
    wanted = _wanted_types(actor, types)
    queryset = scope(Event.objects.all(), actor).filter(type__in=wanted)
    if not access_for(actor).all_stores:
        queryset = queryset.filter(store_id=access_for(actor).store_id)
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    if since is not None:
        queryset = queryset.filter(occurred_at__gte=since)
    columns = ("id", "type", "occurred_at", "member_id", "store_id", "data")
    rows = list(queryset.order_by("id").values_list(*columns)[:limit])
    results = [json.loads(sending.envelope(event_id=pk, event_type=kind, occurred_at=at, member_id=member,
                                           store_id=store, data=data))
               for pk, kind, at, member, store, data in rows]
    return Page(results=results, next=rows[-1][0] if rows else after)


def type_catalogue() -> list[dict]:
    """Every type a subscription may list: code, label and the read scope a key needs to hear it."""
    return [{"code": code, "label": str(kind.label), "scope": type_scope(kind), "resource": kind.resource}
            for code, kind in subscribable_types().items()]


def recent_deliveries(subscription: Subscription, *, state: str | None = None, limit: int = 50):
    queryset = Delivery.objects.filter(subscription=subscription).select_related("event")
    if state:
        queryset = queryset.filter(state=state)
    return list(queryset.order_by("-id")[:limit])


def type_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Subscribable types grouped by the resource whose scope hears them: (resource label, [(code, label)])."""
    resources = permissions.resources()
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, kind in subscribable_types().items():
        groups.setdefault(kind.resource, []).append((code, f"{code} — {kind.label}"))
    return [(str(resources[r].label) if r in resources else r, items) for r, items in sorted(groups.items())]

