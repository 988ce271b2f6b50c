"""Webhook fixtures: integrations' keys and subscriptions made directly, a test event type heard
through the members resource, and a real local receiver (webhooks.receiver) to deliver to."""

from __future__ import annotations

import pytest
from django.utils.translation import gettext_lazy as _

from scrm import events

TOUCHED = "test.member_touched"  # heard with members:read
ORDERED = "test.order_touched"  # heard with orders:read
SECRET = "whsec_test_secret_for_the_receiver_0001"


def register_types() -> None:
    events.register_type(TOUCHED, _("A member was touched (tests)"), resource="members")
    events.register_type(ORDERED, _("An order was touched (tests)"), resource="orders")


register_types()


@pytest.fixture
def integration(db, alice):
    """integration(scopes=..., store=None, name=...) -> an ApiKey."""
    from scrm.services import api_keys

    def make(scopes=("members:read", "orders:read", "webhooks:read"), store=None, name="integration"):
        return api_keys.issue(name=name, scopes=list(scopes), store=store, created_by=alice).api_key

    return make


@pytest.fixture
def subscribe(db, integration):
    """subscribe(url, types=[...], key=None, store=None, **fields) -> a Subscription."""
    from webhooks.models import Subscription

    def make(url, types=(TOUCHED,), key=None, store=None, **fields):
        fields.setdefault("secret", SECRET)
        fields.setdefault("rate", 1000)
        return Subscription.objects.create(api_key=key or integration(), name=fields.pop("name", "hook"), url=url,
                                           event_types=list(types), store=store, **fields)

    return make


@pytest.fixture
def receiver():
    """A started webhooks.receiver.Receiver on a free port, checking SECRET."""
    from webhooks import receiver as kit

    running = kit.start(kit.Receiver(secrets=(SECRET,)))
    yield running
    running.stop()
