"""Who acts: the actor protocol every service takes as `actor=`, and how a write names its actor.

An actor is a staff User (a session), an API key principal (scrm.api.auth.ApiPrincipal) or a
SystemActor (a Celery rule or a command). Users are kept as foreign keys; keys and rules as a
readable label, so every write says who made it. What an actor may reach is scrm.scoping's call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from scrm.models import ApiKey, User


@runtime_checkable
class Actor(Protocol):
    """What services read of whoever acts (User, ApiPrincipal and SystemActor all provide it)."""

    is_authenticated: bool
    is_active: bool
    is_operator: bool
    role: str
    store_id: int | None
    api_key: ApiKey | None


class SystemActor:
    """The actor of rules and periodic jobs: reaches every store, is named by its label."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_operator = True
    is_staff = False
    role = "system"
    api_key = None
    store_id = None
    pk = id = None

    def __init__(self, label: str = "system") -> None:
        self.label = label

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"SystemActor({self.label!r})"


def actor_user(actor) -> User | None:
    """The staff user behind `actor`, or None for an API key or a rule."""
    from scrm.models import User

    return actor if isinstance(actor, User) else None


def actor_label(actor) -> str:
    """'' for a staff user (the foreign key says who), the key's name and prefix for an API key,
    the rule's label for a SystemActor."""
    if isinstance(actor, SystemActor):
        return actor.label[:100]
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return f"API key {api_key.name} ({api_key.prefix})"[:100]
    return ""


def actor_display(actor) -> str:
    user = actor_user(actor)
    return user.get_username() if user is not None else actor_label(actor)
