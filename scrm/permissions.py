"""Permissions: the registry of resources and their scopes, `<resource>:read` and `<resource>:write`.

Each app registers its resources here (from its plugins.py) so API keys can be limited to them;
staff accounts get their scopes from their role (`store_roles` says what store managers may do,
`store_staff` what clerks may, both within their own store). A resource marked `brand_setting`
(the tier ladder, rewards and the points policy, commission rules, tags, attribute definitions,
stores) is the same for every store: store roles and store-bound keys may read it, and only
operators, brand-wide keys and system rules may change it. `scopes_of(actor)` and
`has_scope(actor, scope)` answer for any actor; services refuse with `require_write(actor, resource)`
(scrm.errors.Forbidden), so the API and the dashboard share one decision. Which stores an actor
reaches is scrm.scoping's call.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scrm.errors import Forbidden

LEVELS = ("write", "read", "none")


@dataclass(frozen=True)
class Resource:
    name: str
    label: object  # a lazy translation
    store_roles: str  # what store managers may do through their session
    store_staff: str  # what store staff (clerks) may do
    brand_setting: bool  # changed only by those who reach every store

    @property
    def read_scope(self) -> str:
        return f"{self.name}:read"

    @property
    def write_scope(self) -> str:
        return f"{self.name}:write"


_RESOURCES: dict[str, Resource] = {}


def register(
    resource: str, label, *, store_roles: str = "write", store_staff: str | None = None, brand_setting: bool = False
) -> None:
    """Declare an API resource. `store_roles` ("write", "read" or "none") is what store managers may
    do with it through their session, `store_staff` what clerks may (the managers' level unless
    given; never more). A `brand_setting` is written only by brand-wide actors, so its store level is
    at most "read"."""
    store_staff = store_roles if store_staff is None else store_staff
    for name, level in (("store_roles", store_roles), ("store_staff", store_staff)):
        if level not in LEVELS:
            raise ValueError(f"{name} must be write, read or none, not {level!r}")
    if LEVELS.index(store_staff) < LEVELS.index(store_roles):
        raise ValueError(f"{resource}: store staff cannot do more than store managers")
    if brand_setting and store_roles == "write":
        raise ValueError(f"{resource}: a brand setting is written by brand-wide actors only, not store roles")
    _RESOURCES[resource] = Resource(resource, label, store_roles, store_staff, brand_setting)


def resources() -> dict[str, Resource]:
    return dict(sorted(_RESOURCES.items()))


def resource(name: str) -> Resource:
    return _RESOURCES[name]


def all_scopes() -> list[str]:
    return [f"{name}:{action}" for name in sorted(_RESOURCES) for action in ("read", "write")]


# Reads a default never includes: a data-subject export hands over everything about a person, and
# phones:read shows members' full phones and e-mails to a brand-wide key (members.services.disclosure).
SENSITIVE_READS = frozenset({"privacy:read", "phones:read"})


def read_scopes() -> list[str]:
    """Every read scope but the sensitive ones: what `read` (the default of a new key) means."""
    return [f"{name}:read" for name in sorted(_RESOURCES) if f"{name}:read" not in SENSITIVE_READS]


def store_bound_refused() -> set[str]:
    """Scopes a key bound to one store cannot hold: writes of brand settings."""
    return {r.write_scope for r in _RESOURCES.values() if r.brand_setting}


def available_scopes(*, store_bound: bool) -> list[str]:
    refused = store_bound_refused() if store_bound else set()
    return [scope for scope in all_scopes() if scope not in refused]


def parse(raw: str, *, store_bound: bool = False) -> list[str]:
    """'members:read,orders:write', 'read' (every read scope but privacy:read) or 'all' (every scope
    a key of this binding can hold) to a validated, sorted list of scopes."""
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if items == ["all"]:
        return available_scopes(store_bound=store_bound)
    if items == ["read"]:
        return read_scopes()
    known = set(all_scopes())
    unknown = [item for item in items if item not in known]
    if unknown:
        raise ValueError(
            f"unknown scope(s): {', '.join(unknown)}; known scopes: {', '.join(sorted(known))}, or 'all' / 'read'"
        )
    return sorted(set(items))


# Starting points for the API-key form: (key, label, scopes). POS tills push orders and look up
# members; BI reads figures; a mini-program keeps members, consent and points in step.
PRESETS = (
    ("pos", _("POS integration"), ("orders:read", "orders:write", "members:read")),
    (
        "bi",
        _("BI / reporting (read only)"),
        ("insights:read", "orders:read", "members:read", "tiers:read", "points:read"),
    ),
    (
        "mini_program",
        _("Mini-program"),
        ("members:read", "members:write", "points:read", "points:write", "tiers:read", "rewards:read", "orders:read"),
    ),
)


def presets() -> list[tuple[str, str, list[str]]]:
    known = set(all_scopes())
    return [(key, label, [s for s in scopes if s in known]) for key, label, scopes in PRESETS]


def scopes_for_role(role: str) -> set[str]:
    from scrm.models import Role

    if role == Role.OPERATOR:
        return set(all_scopes())
    if role not in (Role.STORE_MANAGER, Role.STORE_STAFF):
        return set()
    granted = set()
    for res in _RESOURCES.values():
        level = res.store_roles if role == Role.STORE_MANAGER else res.store_staff
        if level in ("read", "write"):
            granted.add(res.read_scope)
        if level == "write":
            granted.add(res.write_scope)
    return granted


def scopes_of(actor) -> set[str]:
    """The scopes `actor` holds: an API key's own (less what its store binding cannot use), a staff
    account's by role, every scope for a system rule, none when signed out or deactivated."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        return set()
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        held = set(actor.scopes)
        return held - store_bound_refused() if api_key.store_id is not None else held
    if getattr(actor, "role", None) == "system":  # scrm.actors.SystemActor
        return set(all_scopes())
    return scopes_for_role(actor.role)


def has_scope(actor, scope: str) -> bool:
    return scope in scopes_of(actor)


def is_brand_wide(actor) -> bool:
    """Operators, brand-wide API keys and system rules: those who reach every store."""
    from scrm.scoping import access_for

    return access_for(actor).all_stores


def can_write(actor, resource_name: str) -> bool:
    """Whether `actor` may change `resource_name`: it holds the write scope, and for a brand setting
    it reaches every store."""
    res = _RESOURCES[resource_name]
    if res.brand_setting and not is_brand_wide(actor):
        return False
    return has_scope(actor, res.write_scope)


def refusal(actor, resource_name: str) -> str:
    """Why `actor` may not change `resource_name`, in words for the caller."""
    res = _RESOURCES[resource_name]
    if res.brand_setting and not is_brand_wide(actor):
        return gettext(
            "“%(resource)s” (%(scope)s) is a brand-wide setting: only operators and brand-wide API keys may "
            "change it."
        ) % {"resource": res.label, "scope": res.write_scope}
    return gettext("This needs the scope '%(scope)s'.") % {"scope": res.write_scope}


def require_write(actor, resource_name: str) -> None:
    """Raise Forbidden unless `actor` may change `resource_name` (see can_write)."""
    if not can_write(actor, resource_name):
        raise Forbidden(refusal(actor, resource_name), details={"scope": [_RESOURCES[resource_name].write_scope]})


register("stores", _("Stores and regions"), store_roles="read", brand_setting=True)
register("staff", _("Staff accounts"), store_roles="read")
register("api_keys", _("API keys"), store_roles="none")
