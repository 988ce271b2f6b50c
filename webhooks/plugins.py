"""What webhooks plug into the registries of the apps below it, called once from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, permissions


def register() -> None:
    permissions.register("webhooks", _("Webhook subscriptions, their deliveries and the event log"),
                         store_roles="none")
    events.register_type("ping", _("A test ping from a subscription's page or the API"), resource="webhooks")
