"""Who may do what with orders, asked by the dashboard's views (and the API where a scope alone
does not say it) before they act; the services refuse on their own as well."""

from __future__ import annotations

from scrm.models import Role
from scrm.permissions import is_brand_wide


def _manager_or_above(actor) -> bool:
    return getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) in (
        Role.OPERATOR, Role.STORE_MANAGER
    )


def can_refund(actor) -> bool:
    """Operators and store managers record refunds (keys holding orders:write too); clerks do not."""
    return _manager_or_above(actor)


def can_import_orders(actor) -> bool:
    """Operators and store managers import order files; clerks do not."""
    return _manager_or_above(actor)


def can_manage_attribution(actor) -> bool:
    """How orders are credited to guides is brand-wide: those who reach every store read and set it."""
    return is_brand_wide(actor)
