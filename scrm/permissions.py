"""Permissions: the registry of resources and their scopes, `<resource>:read` and `<resource>:write`.

Each app registers its resources here (from its plugins.py) so API keys can be limited to them;
staff accounts get their scopes from their role (`store_roles` says what store managers and staff may
do). `scopes_of(actor)` and `has_scope(actor, scope)` answer for any actor, in the API (HasScope) and
in services alike. Which stores an actor reaches is scrm.scoping's call.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

_RESOURCES: dict[str, tuple[str, str]] = {}


def register(resource: str, label, *, store_roles: str = "write") -> None:
    """Declare an API resource; `store_roles` ("write", "read" or "none") is what store managers
    and store staff may do with it through their session (always within their own store)."""
    if store_roles not in ("write", "read", "none"):
        raise ValueError(f"store_roles must be write, read or none, not {store_roles!r}")
    _RESOURCES[resource] = (label, store_roles)


def resources() -> dict[str, tuple[str, str]]:
    return dict(_RESOURCES)


def all_scopes() -> list[str]:
    return [f"{name}:{action}" for name in sorted(_RESOURCES) for action in ("read", "write")]


def read_scopes() -> list[str]:
    return [f"{name}:read" for name in sorted(_RESOURCES)]


def parse(raw: str) -> list[str]:
    """'members:read,orders:write', 'all' or 'read' to a validated, sorted list of scopes."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items == ["all"]:
        return all_scopes()
    if items == ["read"]:
        return read_scopes()
    known = set(all_scopes())
    unknown = [item for item in items if item not in known]
    if unknown:
        raise ValueError(
            f"unknown scope(s): {', '.join(unknown)}; known scopes: {', '.join(sorted(known))}, or 'all' / 'read'"
        )
    return sorted(set(items))


def scopes_for_role(role: str) -> set[str]:
    from scrm.models import Role

    if role == Role.OPERATOR:
        return set(all_scopes())
    granted = set()
    for name, (_label, level) in _RESOURCES.items():
        if level in ("read", "write"):
            granted.add(f"{name}:read")
        if level == "write":
            granted.add(f"{name}:write")
    return granted


def scopes_of(actor) -> set[str]:
    """The scopes `actor` holds: an API key's own, a staff account's by role, none when signed out."""
    if getattr(actor, "api_key", None) is not None:
        return set(actor.scopes)
    if not getattr(actor, "is_authenticated", False):
        return set()
    return scopes_for_role(actor.role)


def has_scope(actor, scope: str) -> bool:
    return scope in scopes_of(actor)


register("stores", _("Stores and regions"), store_roles="read")
register("staff", _("Staff accounts"), store_roles="read")
register("api_keys", _("API keys"), store_roles="none")
