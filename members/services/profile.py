"""Profile fields: the rules for each value, shared by create, upsert, bulk upsert, profile edits and
the file import (members.io.bulk), and the diff `update_member` applies.

Profiles arrive as plain dicts (from JSON, imports or code): {"name", "phone", "gender", "birthday",
"home_store" (store code), "owner" (staff username), "source", "stage", "attributes"}. Cleaning
returns the stored values of the fields given and an error list per field; nothing is written
until every field of every item is clean. Limits, choices and defaults are the model's; the
store and owner rules are predicates answering with a problem code, so the import can word the
same problem in its own report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import AttributeDefinition, Gender, Member, Source, Stage
from members.phones import normalize_phone
from members.services import attributes
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import Access, access_for

PROFILE_FIELDS = ("name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage", "attributes")
NAME_MAX = Member._meta.get_field("name").max_length
CHOICES = {"gender": Gender, "source": Source, "stage": Stage}
# What a member has for a field nobody gave: the model's defaults. A member created by a file
# import came from that import (Source.IMPORT), whatever the model's default source is.
DEFAULTS = {name: Member._meta.get_field(name).default for name in CHOICES}
BIRTHDAY_MIN = date(1900, 1, 1)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Problems with a home store or an owner (see store_problem and owner_problem).
UNKNOWN = "unknown"
CLOSED = "closed"
INACTIVE = "inactive"
NOT_A_GUIDE = "not_a_guide"
OTHER_STORE = "other_store"


@dataclass
class ProfileContext:
    """What cleaning a batch of profiles needs from the database, loaded once per batch."""

    actor: object
    access: Access
    stores: dict[str, Store] = field(default_factory=dict)
    staff: dict[str, User] = field(default_factory=dict)
    definitions: dict[str, AttributeDefinition] = field(default_factory=dict)

    @classmethod
    def load(cls, actor, profiles) -> ProfileContext:
        profiles = [p for p in profiles if isinstance(p, dict)]
        codes = {p["home_store"] for p in profiles if isinstance(p.get("home_store"), str)}
        owners = {str(p["owner"]) for p in profiles if isinstance(p.get("owner"), str | int)}
        access = access_for(actor)
        if access.store_id is not None:
            codes.add("")  # the actor's own store is loaded below by id
        ctx = cls(actor=actor, access=access)
        stores = Store.objects.filter(code__in=codes)
        if access.store_id is not None:
            stores = stores | Store.objects.filter(pk=access.store_id)
        ctx.stores = {s.code: s for s in stores} if codes else {}
        if owners:
            names = {o for o in owners if not o.isdigit()}
            ids = {int(o) for o in owners if o.isdigit()}
            for user in User.objects.filter(username__in=names) | User.objects.filter(pk__in=ids):
                ctx.staff[user.username] = user
                ctx.staff[str(user.pk)] = user
        if any("attributes" in p for p in profiles):
            ctx.definitions = attributes.definitions_by_code()
        return ctx

    def own_store(self) -> Store | None:
        if self.access.store_id is None:
            return None
        return next((s for s in self.stores.values() if s.pk == self.access.store_id), None)


def clean_profile(raw, ctx: ProfileContext) -> tuple[dict, dict]:
    """(cleaned, errors) for the fields present in `raw`; unknown fields are errors."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        return {}, {"non_field_errors": [_("Expected an object of profile fields.")]}
    cleaned: dict = {}
    errors: dict = {}
    for name, value in raw.items():
        if name not in PROFILE_FIELDS:
            errors[name] = [_("Unknown field.")]
            continue
        try:
            cleaned[name] = _CLEANERS[name](value, ctx)
        except ValueError as exc:
            errors[name] = [str(exc)]
        except InvalidInput as exc:
            errors[name] = exc.details
    return cleaned, errors


# --- the rules, one value at a time -------------------------------------------------------------


def name_too_long(name: str) -> bool:
    return len(name) > NAME_MAX


def clean_name(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(_("Expected text."))
    value = value.strip()
    if name_too_long(value):
        raise ValueError(_("At most %(max)d characters.") % {"max": NAME_MAX})
    return value


def clean_phone(value) -> str:
    """E.164, or "" for no phone. The import runs the same normalize_phone over the spellings its
    SQL fast path cannot decide."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(_("Expected a phone number."))
    return normalize_phone(str(value))  # InvalidPhone is a ValueError, with the reason for the import


def clean_choice(name: str, value) -> str:
    """One of the model's choices for `name` (gender, source, stage)."""
    choices = CHOICES[name]
    if value not in choices.values:
        raise ValueError(
            _("%(value)s is not one of: %(choices)s.") % {"value": value, "choices": ", ".join(choices.values)}
        )
    return value


def birthday_in_range(day: date, today: date | None = None) -> bool:
    return BIRTHDAY_MIN <= day <= (today or timezone.localdate())


def clean_birthday(value) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(_("Expected a date as YYYY-MM-DD."))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("%(value)s is not a date.") % {"value": value}) from None
    if not birthday_in_range(day):
        raise ValueError(_("A birthday lies between 1900 and today."))
    return day


def store_problem(store: Store | None, access: Access) -> str | None:
    """Why a member cannot be given `store` as home store by someone with `access`, or None."""
    if store is None:
        return UNKNOWN
    if not store.is_active:
        return CLOSED
    if not access.allows_store(store.pk):
        return OTHER_STORE
    return None


def owner_problem(user: User | None, access: Access) -> str | None:
    """Why `user` cannot own (be the shopping guide of) a member for someone with `access`, or None.
    Whether they work in the member's home store is resolve_store_and_owner's check."""
    if user is None:
        return UNKNOWN
    if not user.is_active:
        return INACTIVE
    if user.role not in STORE_ROLES or user.store_id is None:
        return NOT_A_GUIDE
    if not access.allows_store(user.store_id):
        return OTHER_STORE
    return None


def _home_store(value, ctx):
    if value in (None, ""):
        if not ctx.access.all_stores:
            raise ValueError(_("Members you manage must belong to your store."))
        return None
    store = ctx.stores.get(value) if isinstance(value, str) else None
    problem = store_problem(store, ctx.access)
    if problem == UNKNOWN:
        raise ValueError(_("Unknown store %(value)s.") % {"value": value})
    if problem == CLOSED:
        raise ValueError(_("Store %(value)s is closed.") % {"value": value})
    if problem == OTHER_STORE:
        raise ValueError(_("You can only assign members to your own store."))
    return store


def _owner(value, ctx):
    if value in (None, ""):
        return None
    user = ctx.staff.get(str(value))
    problem = owner_problem(user, ctx.access)
    if problem == NOT_A_GUIDE:
        raise ValueError(_("The owner is a shopping guide: store staff or a store manager."))
    if problem is not None:  # inactive staff and another store's staff stay unseen
        raise ValueError(_("Unknown staff %(value)s.") % {"value": value})
    return user


def _attributes(value, ctx):
    cleaned, errors = attributes.clean_values(value, ctx.definitions)
    if errors:
        raise InvalidInput(details=errors)
    return cleaned


_CLEANERS = {
    "name": lambda value, ctx: clean_name(value),
    "phone": lambda value, ctx: clean_phone(value),
    "gender": lambda value, ctx: clean_choice("gender", value),
    "birthday": lambda value, ctx: clean_birthday(value),
    "home_store": _home_store,
    "owner": _owner,
    "source": lambda value, ctx: clean_choice("source", value),
    "stage": lambda value, ctx: clean_choice("stage", value),
    "attributes": _attributes,
}


def owner_store_mismatch(owner: User | None, store_id: int | None) -> bool:
    """An owner works in the member's home store (a member without a store may have any guide)."""
    return owner is not None and store_id is not None and owner.store_id != store_id


def resolve_store_and_owner(cleaned: dict, member: Member | None, ctx: ProfileContext) -> dict:
    """Fill in a new member's home store (the actor's store for store accounts, else the owner's),
    check the owner works in the home store, and drop the owner of a member moved to another store.
    Returns errors by field; may add home_store and owner to `cleaned`."""
    if member is None and "home_store" not in cleaned:
        own = ctx.own_store()
        if own is not None:
            cleaned["home_store"] = own
        elif cleaned.get("owner") is not None:
            cleaned["home_store"] = cleaned["owner"].store
    if "home_store" in cleaned:
        store_id = cleaned["home_store"].pk if cleaned["home_store"] is not None else None
    else:
        store_id = member.home_store_id if member is not None else None
    owner = cleaned.get("owner")
    if owner_store_mismatch(owner, store_id):
        return {"owner": [_("%(owner)s works in another store than the member's home store.")
                          % {"owner": owner.get_username()}]}
    if (
        "owner" not in cleaned
        and member is not None
        and member.owner_id is not None
        and store_id != member.home_store_id
    ):
        cleaned["owner"] = None  # a guide of the old store no longer owns a member who moved
    return {}


def display(name: str, value):
    """A profile value as the timeline keeps it."""
    if name == "home_store":
        return value.code if value is not None else None
    if name == "owner":
        return value.get_username() if value is not None else None
    if isinstance(value, date):
        return value.isoformat()
    return value


def diff(member: Member, cleaned: dict, definitions) -> tuple[dict, dict]:
    """(values to set, timeline changes) for an existing member; attributes are merged key by key."""
    to_set, changes = {}, {}
    for name, value in cleaned.items():
        if name == "attributes":
            new = attributes.merged(member.attributes, value)
            described = attributes.describe_changes(member.attributes or {}, new, definitions)
            if described:
                to_set["attributes"] = new
                changes["attributes"] = described
            continue
        if name in ("home_store", "owner"):
            old_id = getattr(member, f"{name}_id")
            if old_id != (value.pk if value is not None else None):
                to_set[name] = value
                changes[name] = [display(name, getattr(member, name)), display(name, value)]
            continue
        old = getattr(member, name)
        if old != value:
            to_set[name] = value
            changes[name] = [display(name, old), display(name, value)]
    return to_set, changes
