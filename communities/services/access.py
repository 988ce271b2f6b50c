"""Who may manage a community or an event, and who may check people in.

Reach (which stores) is scrm.scoping's; these add the role rules on top: a community is managed
by brand-wide actors, its store's manager and store-bound keys, and its owner and assistants among
the store's staff. A brand-wide event (no community) is managed by brand-wide actors only. Check-in
is open to anyone with `events:write` at the event's store (every store for brand-wide actors)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from communities.models import Community, Event
from scrm import permissions
from scrm.errors import Forbidden
from scrm.models import Role
from scrm.scoping import access_for


def _is_helper(actor, community: Community) -> bool:
    user_id = getattr(actor, "pk", None)
    if user_id is None or getattr(actor, "api_key", None) is not None:
        return False
    return community.owner_id == user_id or community.assistants.filter(pk=user_id).exists()


def can_manage_community(actor, community: Community) -> bool:
    if not permissions.has_scope(actor, "communities:write"):
        return False
    access = access_for(actor)
    if access.all_stores:
        return True
    if access.store_id != community.store_id:
        return False
    if getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) == Role.STORE_MANAGER:
        return True
    return _is_helper(actor, community)


def require_manage_community(actor, community: Community) -> None:
    if not can_manage_community(actor, community):
        raise Forbidden(
            _("Only the community's owner and assistants, its store's manager and operators may manage “%(name)s”.")
            % {"name": community.name},
            details={"community": [community.pk]},
        )


def can_create_community(actor, store_id: int) -> bool:
    if not permissions.has_scope(actor, "communities:write"):
        return False
    access = access_for(actor)
    if access.all_stores:
        return True
    if access.store_id != store_id:
        return False
    return getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) == Role.STORE_MANAGER


def can_manage_event(actor, event: Event) -> bool:
    if not permissions.has_scope(actor, "events:write"):
        return False
    if event.community_id is None:
        return access_for(actor).all_stores
    return can_manage_community(actor, event.community)


def require_manage_event(actor, event: Event) -> None:
    if not can_manage_event(actor, event):
        raise Forbidden(
            _("You may not manage the event “%(title)s”: only its community's owner and assistants, its store's "
              "manager and operators may (brand-wide events: operators).") % {"title": event.title},
            details={"event": [event.pk]},
        )


def can_check_in(actor, event: Event) -> bool:
    if not permissions.has_scope(actor, "events:write"):
        return False
    return access_for(actor).allows_store(event.store_id)


def require_check_in(actor, event: Event) -> None:
    if not can_check_in(actor, event):
        raise Forbidden(
            _("Only staff of the event's store may check people in at “%(title)s”.") % {"title": event.title},
            details={"event": [event.pk]},
        )
