"""Webhook subscriptions and their deliveries: how integrations hear what happens in Siyu.

The events themselves are the kernel's event log (scrm.models.Event, written by scrm.events in the
same transaction as each change). The relay (webhooks.services.relay) hands each new event to every
subscription that wants it as a Delivery row; the sender (webhooks.services.sending) claims due
deliveries, posts them signed and writes back the answer."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.models import ApiKey, Event, Store
from scrm.scoping import ScopedManager

ERROR_MAX = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")


class Subscription(models.Model):
    """An integration's wish to hear some event types at a URL. Owned by the integration's API key:
    it hears only the types its key's scopes may read, and only its store when the key (or the
    subscription) is limited to one."""

    api_key = models.ForeignKey(ApiKey, verbose_name=_("integration"), on_delete=models.CASCADE,
                                related_name="webhook_subscriptions")
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    event_types = ArrayField(models.CharField(max_length=64), verbose_name=_("event types"))
    store = models.ForeignKey(
        Store, verbose_name=_("limited to store"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", help_text=_("Leave empty to hear every store the integration reaches."),
    )
    # Given by the services (new_secret) on create and rotate; not a model default, so the migrations
    # name no live function.
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=16, choices=SubscriptionState.choices,
                             default=SubscriptionState.ACTIVE)
    paused_reason = models.CharField(_("why paused"), max_length=ERROR_MAX, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    rate = models.PositiveIntegerField(
        _("deliveries a second at most"), default=50, validators=[MinValueValidator(1), MaxValueValidator(10_000)],
        help_text=_("How many requests a second the receiver is sent, at most."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")  # due at next_attempt_at; being sent while leased_until is ahead
    DELIVERED = "delivered", _("Delivered")
    PARKED = "parked", _("Parked")  # given up after the retry window, or refused for good; can be sent again


class Delivery(models.Model):
    """One event for one subscription: delivered at least once, in order per member."""

    subscription = models.ForeignKey(Subscription, verbose_name=_("subscription"), on_delete=models.CASCADE,
                                     related_name="deliveries", db_index=False)
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    member_id = models.BigIntegerField(null=True, blank=True)  # the event's, for the order per member
    state = models.CharField(_("state"), max_length=16, choices=DeliveryState.choices,
                             default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=ERROR_MAX, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)  # event to delivery

    objects = ScopedManager()
    store_scope_field = "subscription__store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["subscription", "event"], name="webhook_delivery_once")]
        indexes = [
            # the sender's claim: each active subscription's due deliveries, oldest first
            models.Index(fields=["subscription", "next_attempt_at", "id"], name="webhook_delivery_due",
                         condition=Q(state="pending")),
            models.Index(fields=["subscription", "member_id", "id"], name="webhook_delivery_member_order",
                         condition=Q(state="pending")),
            models.Index(fields=["subscription", "state", "id"], name="webhook_delivery_sub_state"),
            models.Index(fields=["event"], name="webhook_delivery_event"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}:{self.event_id} {self.state}"
