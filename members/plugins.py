"""What members plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members import privacy_registry, queries, timeline_sources
from members.services import privacy
from scrm import events, overview, permissions


def register() -> None:
    permissions.register("members", _("Members"))
    timeline_sources.register()
    # The vocabulary is the brand's: store roles read it (and tag their own members, which is
    # members:write); defining it, merging and data-subject requests are for operators.
    permissions.register("tags", _("Tag groups and tags"), store_roles="read", brand_setting=True)
    permissions.register("attributes", _("Custom attribute definitions"), store_roles="read", brand_setting=True)
    permissions.register("merges", _("Merging duplicate members"), store_roles="none")
    permissions.register("privacy", _("Data-subject requests: export and erase members"), store_roles="none")
    # Full phones and e-mails by default (members.services.disclosure): brand-wide keys given it by name.
    permissions.register("phones", _("Members' full phone numbers and e-mails"), store_roles="none")
    # The member figures at the head of the overview (before sales) and of the phone's Today page.
    _register_events()
    overview.register("members", template="members/_overview_cards.html", context=queries.overview_figures,
                      order=10, page="overview_cards")
    overview.register("members", template="members/_overview.html", context=queries.overview_figures, order=20)
    overview.register("my_members", template="members/_overview_today.html", context=queries.today_figures,
                      order=10, page="today")
    overview.register("newest_members", template="members/_overview_today_recent.html",
                      context=queries.newest_members, order=90, page="today")


def _register_events() -> None:
    """The member centre's event types: heard with the members read scope (a store-bound key hears
    its store's members only). None carries personal data, so erasure has nothing of theirs to blank."""
    for code, label in (
        ("member.joined", _("A member joined (created by any channel, import or sync)")),
        ("member.merged", _("A duplicate was merged into this member")),
        ("member.erased", _("A member's personal data was erased")),
        ("member.consent_changed", _("A member's consent to a purpose on a channel changed")),
        ("member.tag_added", _("A tag was added to a member")),
        ("member.tag_removed", _("A tag was removed from a member")),
    ):
        events.register_type(code, label, resource="members")
    privacy_registry.register_erasure_step("event_log", privacy.erase_event_log)
    privacy_registry.register_export_part("event_log", privacy.event_log_part)
