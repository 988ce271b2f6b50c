"""Telling a subscription's owner that its deliveries stopped: an audit entry always, and a short
email to whoever created the integration's key when they have an address and email is configured."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext

from scrm.actors import SystemActor
from scrm.services import audit
from webhooks.models import Subscription

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def email_configured() -> bool:
    """Django's email goes somewhere: a backend other than SMTP's default, or an SMTP host set."""
    return settings.EMAIL_BACKEND != DEFAULT_BACKEND or settings.EMAIL_HOST not in ("", "localhost")


def subscription_paused(subscription: Subscription) -> None:
    """Record that `subscription` was paused (its paused_reason says why) and tell its owner, after
    the pause commits. Called inside the pause's transaction."""
    key = subscription.api_key
    audit.record(
        actor=SystemActor("webhooks:delivery"), action="webhooks.subscription_paused", obj=subscription,
        store_id=subscription.store_id or key.store_id,
        detail={"reason": subscription.paused_reason, "url": subscription.url, "api_key": key.pk},
    )
    owner = key.created_by
    if owner is None or not owner.email or not email_configured():
        return
    subject = gettext("Webhook subscription “%(name)s” paused") % {"name": subscription.name}
    message = gettext(
        "Siyu stopped sending events to %(url)s (subscription “%(name)s” of the integration “%(key)s”): "
        "%(reason)s.\n\nEvents wait until the subscription is resumed; deliveries that were given up can "
        "be sent again from the subscription's page."
    ) % {"url": subscription.url, "name": subscription.name, "key": key.name, "reason": subscription.paused_reason}

    def send() -> None:
        try:
            send_mail(subject, message, None, [owner.email])
        except Exception as exc:  # noqa: BLE001 - the audit entry stands; a mail server down is logged only
            logger.warning("webhooks: could not email %s about subscription %s: %s", owner.pk, subscription.pk,
                           str(exc)[:200])

    transaction.on_commit(send)
