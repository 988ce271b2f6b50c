"""Who acts: the actor protocol every service takes as `actor=`, and how a write names its actor.

An actor is a staff User (a session), an API key principal (scrm.api.auth.ApiPrincipal) or a
SystemActor (a Celery rule or a command). Users are kept as foreign keys; keys and rules as a
readable label, so every write says who made it. What an actor may reach is scrm.scoping's call."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

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


# Labels of system actors, stored as a stable code and shown in the reader's language. Rows written
# before the codes stored the label itself, in the writer's language; those are recognised too.
SYSTEM_LABELS = {
    "system": _("System"),
    "demo": _("Demo data"),
    "points:policy": _("Points policy"),
    "points:expiry": _("Points expiry"),
    "rule tag refresh": _("Tag rules"),
}
_API_KEY_LABEL = re.compile(r"^API key (?P<name>.*) \((?P<prefix>[^()]*)\)$")
_RULE_LABEL = re.compile(r"^rule:(?P<name>.+)$")


@functools.cache
def _legacy_labels() -> dict[str, str]:
    """Every language's rendering of a system label -> its code (labels stored translated)."""
    found = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            found.update({str(label): code for code, label in SYSTEM_LABELS.items()})
    return found


def label_display(label: str) -> str:
    """A stored actor label (a system actor's code, a rule, an API key) in the reader's language."""
    if not label:
        return ""
    code = label if label in SYSTEM_LABELS else _legacy_labels().get(label)
    if code is not None:
        return str(SYSTEM_LABELS[code])
    if match := _API_KEY_LABEL.match(label):
        return _("API key %(name)s (%(prefix)s)") % match.groupdict()
    if match := _RULE_LABEL.match(label):
        return _("Rule %(name)s") % {"name": match["name"].replace("_", " ")}
    return label


def stored_actor_display(user, label: str) -> str:
    """Who made a stored row, for a reader: the staff member's name, or the label of a key or rule."""
    if user is not None:
        return str(user)
    return label_display(label)


def actor_display(actor) -> str:
    user = actor_user(actor)
    return stored_actor_display(user, "" if user is not None else actor_label(actor))
