"""Create or update members by identity: one at a time (`upsert_member`), a thousand at a time
(`bulk_upsert_members`, a fixed handful of queries per batch), plus `create_member` and
`update_member` on the same path.

Finding the member: every identity given (and the phone, which is recorded as a `phone` identity)
is looked up. None held -> a new member; all held by one member -> that member is updated; held by
several -> IdentityConflict naming the identities and members, for an operator to merge. Nothing is
guessed.

Concurrency: the unique index on (channel, namespace, external_id) is the arbiter. New identities go
in with INSERT ... ON CONFLICT DO NOTHING; if any was taken meanwhile by a concurrent writer, the
whole attempt rolls back (its new member with it) and runs again, now finding the winner's member.
Small calls also take transaction-scoped advisory locks on their identity keys first, so concurrent
upserts of one identity queue instead of racing; a 1,000-item batch skips those (thousands of
advisory locks would crowd PostgreSQL's shared lock table) and relies on the retry alone."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.errors import IdentityConflict
from members.models import Channel, Member, MemberEvent, Source, Tag, TagSource
from members.services import attributes, events, identities, relations, tags
from members.services.identities import IdentityKey
from members.services.profile import PROFILE_FIELDS, ProfileContext, clean_profile, diff, resolve_store_and_owner
from scrm.errors import Conflict, InvalidInput

MAX_BATCH = 1000
LOCK_LIMIT = 64  # identity keys; above this, advisory locks are skipped (see the module docstring)
ATTEMPTS = 5
ITEM_FIELDS = frozenset({"identities", "tags", *PROFILE_FIELDS})


class _Retry(Exception):
    """A concurrent writer changed what this attempt read; roll back and run again."""


@dataclass
class _Item:
    index: int
    keys: list[IdentityKey]
    profile: dict
    tag_ids: list[int] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)


@dataclass(frozen=True)
class UpsertResult:
    index: int
    member_id: int
    created: bool
    changed: tuple[str, ...] = ()
    identities_added: tuple[str, ...] = ()


# --- public entry points --------------------------------------------------------------------------


def upsert_member(*, identities: list, profile: dict | None = None, tags: list | None = None, actor,
                  tag_source: str = TagSource.API) -> UpsertResult:
    """Create or update the one member holding any of `identities` (list of {channel, namespace,
    external_id}); see the module docstring. Errors name the fields: {"phone": [...],
    "identities": {"0": {"channel": [...]}}, "tags": [...], "attributes": {"code": [...]}}."""
    ctx = ProfileContext.load(actor, [profile or {}])
    item, errors = _clean(0, identities, profile, tags, ctx, require_identity=True)
    _check_tags([item], {0: errors}, tag_source)
    if errors:
        raise InvalidInput(details=errors)
    try:
        return _run(lambda: _write([item], ctx, actor, mode="upsert", tag_source=tag_source))[0]
    except (InvalidInput, IdentityConflict) as exc:
        raise _unwrap(exc) from None


def create_member(*, profile: dict, identities: list | None = None, tags: list | None = None, actor,
                  tag_source: str = TagSource.MANUAL) -> UpsertResult:
    """A new member; identities (or the phone) someone already holds are an IdentityConflict."""
    ctx = ProfileContext.load(actor, [profile or {}])
    item, errors = _clean(0, identities or [], profile, tags, ctx, require_identity=False)
    _check_tags([item], {0: errors}, tag_source)
    if errors:
        raise InvalidInput(details=errors)
    try:
        return _run(lambda: _write([item], ctx, actor, mode="create", tag_source=tag_source))[0]
    except (InvalidInput, IdentityConflict) as exc:
        raise _unwrap(exc) from None


def bulk_upsert_members(*, items: list, actor, tag_source: str = TagSource.API) -> list[UpsertResult]:
    """Upsert up to 1,000 items ({"identities": [...], "tags": [...], profile fields...}) in one
    transaction. Every item is checked first; any error (details {"items": {"3": {"phone": [...]}}})
    or conflict means nothing is written. The same identity in two items is an error naming both."""
    if not isinstance(items, list) or not items:
        raise InvalidInput(details={"items": [_("Expected a non-empty list of members.")]})
    if len(items) > MAX_BATCH:
        raise InvalidInput(details={"items": [_("At most %(max)d members per batch.") % {"max": MAX_BATCH}]})
    profiles = [{k: v for k, v in raw.items() if k in PROFILE_FIELDS} if isinstance(raw, dict) else {} for raw in items]
    ctx = ProfileContext.load(actor, profiles)
    cleaned: list[_Item] = []
    errors: dict[int, dict] = {}
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            errors[index] = {"non_field_errors": [_("Expected an object.")]}
            cleaned.append(_Item(index, [], {}))
            continue
        item_errors = {name: [_("Unknown field.")] for name in raw if name not in ITEM_FIELDS}
        item, more = _clean(index, raw.get("identities"), profiles[index], raw.get("tags"), ctx, require_identity=True)
        item_errors.update(more)
        if item_errors:
            errors[index] = item_errors
        cleaned.append(item)
    _check_tags(cleaned, errors, tag_source)
    first_seen: dict[IdentityKey, int] = {}
    for item in cleaned:
        for key in item.keys:
            other = first_seen.setdefault(key, item.index)
            if other != item.index:
                for here, there in ((item.index, other), (other, item.index)):
                    errors.setdefault(here, {}).setdefault("identities", []).append(
                        _("%(identity)s also appears in item %(other)d.") % {"identity": key.label, "other": there}
                    )
    errors = {i: e for i, e in errors.items() if e}
    if errors:
        raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})
    return _run(lambda: _write(cleaned, ctx, actor, mode="upsert", tag_source=tag_source))


def update_member(*, member: Member, profile: dict, actor) -> Member:
    """Edit profile fields of one member (PATCH semantics). A new phone is also recorded as a
    phone identity; another member holding it is an IdentityConflict."""
    ctx = ProfileContext.load(actor, [profile or {}])
    item, errors = _clean(0, [], profile, None, ctx, require_identity=False)
    if errors:
        raise InvalidInput(details=errors)
    try:
        _run(lambda: _write([item], ctx, actor, mode="update", tag_source=TagSource.MANUAL, target=member))
    except (InvalidInput, IdentityConflict) as exc:
        raise _unwrap(exc) from None
    return Member.objects.select_related("home_store", "owner").get(pk=member.pk)


# --- checking -----------------------------------------------------------------------------------


def _clean(index, raw_identities, raw_profile, raw_tags, ctx, *, require_identity: bool) -> tuple[_Item, dict]:
    keys, id_errors = identities.clean_identities(raw_identities)
    profile, errors = clean_profile(raw_profile, ctx)
    if id_errors:
        errors["identities"] = id_errors
    phone = profile.get("phone")
    if phone:
        phone_key = IdentityKey(Channel.PHONE, "", phone)
        if phone_key not in keys:
            keys.append(phone_key)
    if require_identity and not keys and "identities" not in errors and "phone" not in errors:
        errors["identities"] = [_("Give at least one identity (or a phone) to find the member by.")]
    tag_ids: list[int] = []
    if raw_tags is not None:
        try:
            tag_ids = tags.clean_tag_ids(raw_tags)
        except InvalidInput as exc:
            errors.update(exc.details)
    return _Item(index, keys, profile, tag_ids), errors


def _check_tags(items: list[_Item], errors: dict, source: str) -> None:
    wanted = [i for item in items for i in item.tag_ids]
    if not wanted:
        return
    found = tags.fetch_tags(wanted)
    for item in items:
        messages = tags.check_tags(item.tag_ids, found, source=source)
        if messages:
            errors.setdefault(item.index, {}).setdefault("tags", []).extend(messages)
    for item in items:
        item.tags = [found[i] for i in item.tag_ids if i in found]


def _unwrap(exc):
    """Single-item calls report fields at the top level, not under items/0."""
    items = exc.details.get("items")
    if isinstance(items, dict) and set(items) == {"0"}:
        return type(exc)(exc.message, details=items["0"], code=exc.code)
    return exc


# --- writing ------------------------------------------------------------------------------------


def _is_retryable(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "pgcode", None) in ("40P01", "40001")  # deadlock, serialization failure


def _run(write):
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return write()
        except _Retry:
            continue
        except OperationalError as exc:
            if _is_retryable(exc) and attempt < ATTEMPTS - 1:
                continue
            raise
    raise Conflict(_("Concurrent changes kept moving these identities; try again."), code="busy")


def _write(items: list[_Item], ctx: ProfileContext, actor, *, mode: str, tag_source: str,
           target: Member | None = None) -> list[UpsertResult]:
    all_keys = [key for item in items for key in item.keys]
    if len(all_keys) <= LOCK_LIMIT:
        identities.lock(all_keys)
    held = identities.owners(all_keys)

    conflicts: dict[int, dict] = {}
    member_of: dict[int, int | None] = {}
    for item in items:
        found = sorted({held[key] for key in item.keys if key in held})
        if target is not None:
            found = [m for m in found if m != target.pk]
            if found:
                conflicts[item.index] = _conflict(item, held, actor)
            member_of[item.index] = target.pk
        elif found and (mode == "create" or len(found) > 1):
            conflicts[item.index] = _conflict(item, held, actor)
        else:
            member_of[item.index] = found[0] if found else None

    wanted = sorted({m for m in member_of.values() if m is not None})
    members = {
        m.pk: m
        for m in Member.objects.select_for_update(of=("self",)).select_related("home_store", "owner")
        .filter(pk__in=wanted).order_by("pk")
    }
    for index, member_id in member_of.items():
        if member_id is None:
            continue
        member = members.get(member_id)
        if member is None or not member.is_live:
            if target is not None:
                raise InvalidInput(details={"non_field_errors": [_("This member was merged or erased.")]})
            raise _Retry  # the identity moved (merge) or went (erasure) after we read it
        if not ctx.access.allows_store(member.home_store_id):
            item = next(i for i in items if i.index == index)
            conflicts[index] = {
                "identities": [{"identity": k.as_dict(), "label": k.label} for k in item.keys if k in held],
                "reason": "other_store",
                "message": _("These identities belong to a member of another store."),
            }
    if conflicts:
        messages = [conflict.pop("message", None) for conflict in conflicts.values()]
        raise IdentityConflict(
            messages[0] or _("These identities belong to different members; merge them first."),
            details={"items": {str(i): conflicts[i] for i in sorted(conflicts)}},
        )

    errors: dict[int, dict] = {}
    first_item_of: dict[int, int] = {}
    for item in items:
        member_id = member_of[item.index]
        if member_id is None:
            continue
        other = first_item_of.setdefault(member_id, item.index)
        if other != item.index:
            for here, there in ((item.index, other), (other, item.index)):
                errors.setdefault(here, {}).setdefault("identities", []).append(
                    _("Item %(other)d finds the same member; send one item per member.") % {"other": there}
                )

    profiles = {item.index: dict(item.profile) for item in items}  # resolving adds fields; a retry starts clean
    needs_consent = [
        member_of[item.index] for item in items
        if member_of[item.index] and any(
            v is not None and attributes.consents_needed(ctx.definitions[c])
            for c, v in (item.profile.get("attributes") or {}).items()
        )
    ]
    granted = attributes.granted_purposes(needs_consent) if needs_consent else {}
    for item in items:
        member = members.get(member_of[item.index])
        profile = profiles[item.index]
        item_errors = resolve_store_and_owner(profile, member, ctx)
        values = profile.get("attributes")
        if values:
            have = granted.get(member.pk, set()) if member is not None else set()
            consent = attributes.consent_errors(values, ctx.definitions, have)
            if consent:
                item_errors["attributes"] = consent
        if item_errors:
            errors.setdefault(item.index, {}).update(item_errors)
    if errors:
        raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})

    now = timezone.now()
    new_items = [item for item in items if member_of[item.index] is None]
    new_indexes = {item.index for item in new_items}
    created = [_new_member(profiles[item.index], now) for item in new_items]
    _insert_members(created, now)
    for item, member in zip(new_items, created, strict=True):
        member_of[item.index] = member.pk
        members[member.pk] = member

    pairs = [(member_of[item.index], key) for item in items for key in item.keys
             if held.get(key) != member_of[item.index]]
    if len(identities.insert(pairs)) != len(pairs):
        raise _Retry  # a concurrent writer took one of these identities first

    changed_members, changes_of = [], {}
    owner_rows = []
    for item in items:
        member = members[member_of[item.index]]
        profile = profiles[item.index]
        if item.index in new_indexes:
            if profile.get("owner") is not None:
                owner_rows.append((member.pk, profile["owner"].pk, profile["owner"].store_id))
            continue
        to_set, changes = diff(member, profile, ctx.definitions)
        if not to_set:
            continue
        for name, value in to_set.items():
            setattr(member, name, value)
        changed_members.append(member)
        changes_of[item.index] = changes
        if "owner" in to_set:
            owner = to_set["owner"]
            owner_rows.append((member.pk, owner.pk if owner else None, owner.store_id if owner else None))
    _update_members(changed_members, now)
    relations.sync_owners(owner_rows)
    tags.apply_pairs(
        [(member_of[item.index], tag) for item in items for tag in item.tags],
        actor=actor, source=tag_source,
    )

    timeline = []
    results = []
    for item in items:
        member_id = member_of[item.index]
        added = tuple(key.label for key in item.keys if held.get(key) != member_id)
        is_new = item.index in new_indexes
        if is_new:
            timeline.append(events.event(member_id, MemberEvent.Kind.CREATED, actor, {
                "identities": list(added),
                "fields": sorted(profiles[item.index]),
                "source": profiles[item.index].get("source", Source.OTHER),
            }, at=now))
        else:
            if item.index in changes_of:
                timeline.append(events.event(member_id, MemberEvent.Kind.UPDATED, actor,
                                             {"changes": changes_of[item.index]}, at=now))
            if added:
                timeline.append(events.event(member_id, MemberEvent.Kind.IDENTITY_ADDED, actor,
                                             {"identities": list(added)}, at=now))
        results.append(UpsertResult(
            index=item.index, member_id=member_id, created=is_new,
            changed=tuple(sorted(changes_of.get(item.index, {}))), identities_added=added,
        ))
    events.record_many(timeline)
    return results


def _conflict(item: _Item, held: dict, actor) -> dict:
    found = [identities.conflict_details(key, held[key], actor) for key in item.keys if key in held]
    return {"identities": found, "members": sorted({f["member"] for f in found if "member" in f})}


# Profile columns written by upserts, as (column, SQL array type).
_COLUMNS = (
    ("name", "text"), ("phone", "text"), ("gender", "text"), ("birthday", "date"), ("home_store_id", "bigint"),
    ("owner_id", "bigint"), ("source", "text"), ("stage", "text"), ("attributes", "text"),
)


def _column_arrays(members: list[Member]) -> list[list]:
    arrays = []
    for column, _type in _COLUMNS:
        values = [getattr(m, column) for m in members]
        if column == "attributes":
            values = [json.dumps(v or {}, cls=DjangoJSONEncoder) for v in values]
        arrays.append(values)
    return arrays


def _insert_members(members: list[Member], now) -> None:
    """INSERT new members in one statement, ids drawn from the sequence first (so each object gets
    its own id whatever order the rows come back in)."""
    if not members:
        return
    names = ", ".join(column for column, _t in _COLUMNS)
    values = ", ".join(f"r.{c}::jsonb" if c == "attributes" else f"r.{c}" for c, _t in _COLUMNS)
    unnest = ", ".join(f"%s::{sql_type}[]" for _c, sql_type in _COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('members_member', 'id')) FROM generate_series(1, %s)",
            [len(members)],
        )
        for member, (member_id,) in zip(members, cursor.fetchall(), strict=True):
            member.pk = member_id
        cursor.execute(
            f"""INSERT INTO members_member (id, {names}, created_at, updated_at)
            SELECT r.id, {values}, %s, %s
            FROM unnest(%s::bigint[], {unnest}) AS r(id, {names})""",
            [now, now, [m.pk for m in members], *_column_arrays(members)],
        )


def _update_members(members: list[Member], now) -> None:
    """UPDATE ... FROM unnest: every profile column of the (locked) members in one statement."""
    if not members:
        return
    names = [column for column, _t in _COLUMNS]
    assignments = ", ".join(
        f"{c} = r.{c}::jsonb" if c == "attributes" else f"{c} = r.{c}" for c in names
    )
    unnest = ", ".join(f"%s::{sql_type}[]" for _c, sql_type in _COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE members_member m SET {assignments}, updated_at = %s
            FROM unnest(%s::bigint[], {unnest}) AS r(id, {", ".join(names)})
            WHERE m.id = r.id""",
            [now, [m.pk for m in members], *_column_arrays(members)],
        )
    for member in members:
        member.updated_at = now


def _new_member(profile: dict, now) -> Member:
    values = {name: value for name, value in profile.items() if name != "attributes"}
    values["attributes"] = attributes.merged({}, profile.get("attributes") or {})
    values.setdefault("name", "")
    return Member(created_at=now, updated_at=now, **values)

