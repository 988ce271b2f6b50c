"""Demo integration for webhooks: a "Data warehouse (demo)" API key with the read scopes, and, when
SIYU_DEMO_EVENT_RECEIVER_URL is set (the local receiver `up` starts), its subscription to a handful
of event types at that URL, signed with SIYU_DEMO_EVENT_RECEIVER_SECRET when given so the receiver
can check it. Idempotent: a rerun finds the key and the subscription by name and adds nothing (it
takes the receiver's URL and secret of this run, which the local receiver may change on a restart)."""

from __future__ import annotations

import os

from django.db import transaction

from scrm import permissions
from scrm.actors import SystemActor
from scrm.models import ApiKey
from scrm.services import api_keys
from webhooks.models import Subscription
from webhooks.services import subscriptions

DEMO_ACTOR = SystemActor("demo")
KEY_NAME = "Data warehouse (demo)"
SUBSCRIPTION_NAME = "Data warehouse events (demo)"
TYPES = ("member.joined", "member.tag_added", "member.tier_changed", "points.earned", "order.linked",
         "event.checked_in")


def _key() -> tuple[ApiKey, bool]:
    key = ApiKey.objects.filter(name=KEY_NAME, revoked_at__isnull=True).order_by("id").first()
    if key is not None:
        return key, False
    scopes = [*permissions.read_scopes(), "webhooks:write"]
    return api_keys.issue(name=KEY_NAME, scopes=scopes, actor=DEMO_ACTOR).api_key, True


def _subscription(key: ApiKey, url: str) -> bool:
    secret = os.environ.get("SIYU_DEMO_EVENT_RECEIVER_SECRET", "").strip()
    existing = Subscription.objects.filter(api_key=key, name=SUBSCRIPTION_NAME).first()
    if existing is not None:
        # The local receiver may start with a new secret (and port) each time: follow it, add nothing.
        changes = {"url": url, **({"secret": secret} if secret else {})}
        Subscription.objects.filter(pk=existing.pk).update(**changes)
        return False
    held = set(key.scopes)
    known = subscriptions.subscribable_types()
    types = [t for t in TYPES if t in known and subscriptions.type_scope(known[t]) in held]
    if not types:
        return False
    created = subscriptions.create_subscription(actor=DEMO_ACTOR, api_key=key, name=SUBSCRIPTION_NAME, url=url,
                                                event_types=types)
    if secret:
        Subscription.objects.filter(pk=created.subscription.pk).update(secret=secret)
    return True


@transaction.atomic
def seed() -> str:
    key, new_key = _key()
    url = os.environ.get("SIYU_DEMO_EVENT_RECEIVER_URL", "").strip()
    new_subscription = _subscription(key, url) if url else False
    parts = [f"integration {KEY_NAME!r} ({'new' if new_key else 'kept'})"]
    if url:
        parts.append(f"subscription to {url} ({'new' if new_subscription else 'kept'})")
    else:
        parts.append("no subscription (SIYU_DEMO_EVENT_RECEIVER_URL is not set)")
    return "; ".join(parts)
