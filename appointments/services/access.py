"""Who may do what with appointments. Reach (which stores) is scrm.scoping's; these add the role rules:
a store's catalogue (its services, opening hours, staff hours and skills, time off) is managed by
brand-wide actors, the store's manager and store-bound keys; brand-wide services and skills by
brand-wide actors only. Booking, rescheduling, cancelling and the visit (check-in, no-show, complete)
are open to anyone with `appointments:write` at the booking's store, clerks included."""

from __future__ import annotations

from django.utils.translation import gettext as _

from scrm import permissions
from scrm.errors import Forbidden
from scrm.models import Role
from scrm.scoping import access_for

RESOURCE = "appointments"
WRITE = "appointments:write"


def require_write(actor) -> None:
    if not permissions.has_scope(actor, WRITE):
        raise Forbidden(permissions.refusal(actor, RESOURCE), details={"scope": [WRITE]})


def can_manage_store(actor, store_id: int | None) -> bool:
    """May `actor` change the catalogue of `store_id` (None: the brand-wide catalogue)?"""
    if not permissions.has_scope(actor, WRITE):
        return False
    access = access_for(actor)
    if access.all_stores:
        return True
    if store_id is None or access.store_id != store_id:
        return False
    return getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) == Role.STORE_MANAGER


def require_manage_store(actor, store_id: int | None) -> None:
    require_write(actor)
    if not can_manage_store(actor, store_id):
        if store_id is None:
            message = _("Only operators may change brand-wide services and skills.")
        else:
            message = _("Only the store's manager and operators may change its services and hours.")
        raise Forbidden(message, details={"store": [store_id]})


def can_book_at(actor, store_id: int) -> bool:
    return permissions.has_scope(actor, WRITE) and access_for(actor).allows_store(store_id)


def require_book_at(actor, store_id: int) -> None:
    require_write(actor)
    if not can_book_at(actor, store_id):
        raise Forbidden(_("Only staff of the booking's store may book or change its appointments."),
                        details={"store": [store_id]})
