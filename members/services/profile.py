"""Profile fields: validation shared by create, upsert, bulk upsert and edits, and `update_member`.

Profiles arrive as plain dicts (from JSON, imports or code): {"name", "phone", "gender", "birthday",
"home_store" (store code), "owner" (staff username), "source", "stage", "attributes"}. Cleaning
returns the stored values of the fields given and an error list per field; nothing is written
until every field of every item is clean."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import AttributeDefinition, Gender, Member, Source, Stage
from members.phones import InvalidPhone, normalize_phone
from members.services import attributes
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import Access, access_for

PROFILE_FIELDS = ("name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage", "attributes")
NAME_MAX = 64
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def _name(value, ctx):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(_("Expected text."))
    value = value.strip()
    if len(value) > NAME_MAX:
        raise ValueError(_("At most %(max)d characters.") % {"max": NAME_MAX})
    return value


def _phone(value, ctx):
    if value in (None, ""):
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(_("Expected a phone number."))
    try:
        return normalize_phone(str(value))
    except InvalidPhone as exc:
        raise ValueError(str(exc)) from None


def _choice(choices):
    allowed = frozenset(choices.values)

    def clean(value, ctx):
        if value not in allowed:
            raise ValueError(
                _("%(value)s is not one of: %(choices)s.") % {"value": value, "choices": ", ".join(choices.values)}
            )
        return value

    return clean


def _birthday(value, ctx):
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(_("Expected a date as YYYY-MM-DD."))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("%(value)s is not a date.") % {"value": value}) from None
    if day > timezone.localdate() or day.year < 1900:
        raise ValueError(_("A birthday lies between 1900 and today."))
    return day


def _home_store(value, ctx):
    if value in (None, ""):
        if not ctx.access.all_stores:
            raise ValueError(_("Members you manage must belong to your store."))
        return None
    store = ctx.stores.get(value) if isinstance(value, str) else None
    if store is None:
        raise ValueError(_("Unknown store %(value)s.") % {"value": value})
    if not ctx.access.allows_store(store.pk):
        raise ValueError(_("You can only assign members to your own store."))
    return store


def _owner(value, ctx):
    if value in (None, ""):
        return None
    user = ctx.staff.get(str(value))
    if user is None or not user.is_active:
        raise ValueError(_("Unknown staff %(value)s.") % {"value": value})
    if user.role not in STORE_ROLES:
        raise ValueError(_("The owner is a shopping guide: store staff or a store manager."))
    if not ctx.access.allows_store(user.store_id):
        raise ValueError(_("Unknown staff %(value)s.") % {"value": value})  # another store's staff stay unseen
    return user


def _attributes(value, ctx):
    cleaned, errors = attributes.clean_values(value, ctx.definitions)
    if errors:
        raise InvalidInput(details=errors)
    return cleaned


_CLEANERS = {
    "name": _name,
    "phone": _phone,
    "gender": _choice(Gender),
    "birthday": _birthday,
    "home_store": _home_store,
    "owner": _owner,
    "source": _choice(Source),
    "stage": _choice(Stage),
    "attributes": _attributes,
}


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
    if owner is not None and store_id is not None and owner.store_id != store_id:
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
