"""What webhooks plug into the registries of the apps below it, called once from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, overview, permissions


def _paused_section(user) -> dict:
    """The overview's notice of paused subscriptions and why; empty (nothing shown) when none is."""
    if not permissions.has_scope(user, "webhooks:read"):
        return {"paused": []}
    from webhooks import queries

    return {"paused": queries.paused_subscriptions(user)}


def register() -> None:
    from webhooks import privacy

    permissions.register("webhooks", _("Webhook subscriptions, their deliveries and the event log"),
                         store_roles="none")
    events.register_type("ping", _("A test ping from a subscription's page or the API"), resource="webhooks")
    overview.register("webhooks_paused", template="webhooks/_overview.html", context=_paused_section, order=5)
    privacy.register()
