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
from members.models import Channel, Member, MemberEvent, Tag, TagSource
from members.services import attributes, events, identities, relations, tags
from members.services.identities import IdentityKey
from members.services.profile import (
    DEFAULTS,
    PROFILE_FIELDS,
    ProfileContext,
    clean_profile,
    diff,
    resolve_store_and_owner,
)
from scrm import events as scrm_events
from scrm.errors import Conflict, InvalidInput

MAX_BATCH = 1000
LOCK_LIMIT = 64  # identity keys; above this, advisory locks are skipped (see the module docstring)
ATTEMPTS = 5
ITEM_FIELDS = frozenset({"identities", "tags", *PROFILE_FIELDS})


JOINED = "member.joined"


def joined_data(source: str, keys) -> dict:
    """member.joined's data: how the member came (Member.source) and the channel of the first
    identity it came with (wecom, tmall, phone…), never the identity itself."""
    return {"source": source or "", "channel": keys[0].channel if keys else ""}


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
        return _run(lambda: _write([item], ctx, actor, finder=_BY_IDENTITY, tag_source=tag_source))[0]
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
        return _run(lambda: _write([item], ctx, actor, finder=_NEW_ONLY, tag_source=tag_source))[0]
    except (InvalidInput, IdentityConflict) as exc:
        raise _unwrap(exc) from None


def bulk_upsert_members(*, items: list, actor, tag_source: str = TagSource.API) -> list[UpsertResult]:
    """Upsert up to 1,000 items ({"identities": [...], "tags": [...], profile fields...}) in one
    transaction. Every item is checked first; any error (details {"items": {"3": {"phone": [...]}}})
    or conflict means nothing is written. The same identity in two items is an error naming both."""
    cleaned, ctx, errors = _check_batch(items, actor, tag_source)
    if errors:
        raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})
    return _run(lambda: _write(cleaned, ctx, actor, finder=_BY_IDENTITY, tag_source=tag_source))


@dataclass(frozen=True)
class BatchOutcome:
    """What a per-item batch did: the results of the items written, the errors of the others (by
    index), and which of those are identity conflicts (IdentityConflict details) rather than bad data."""

    results: list[UpsertResult]
    errors: dict[int, dict]
    conflicts: frozenset[int]


def bulk_upsert_members_per_item(*, items: list, actor, tag_source: str = TagSource.API) -> BatchOutcome:
    """Like bulk_upsert_members, but each item stands alone: the valid items are written (in one
    transaction) and each invalid or conflicting one gets its own errors, as orders' batches do. An
    item refused while writing (an identity held by another member, another store's member, one
    member found by two items) is set aside and the rest written again, a bounded number of times."""
    cleaned, ctx, errors = _check_batch(items, actor, tag_source)
    conflicts: set[int] = set()
    pending = [item for item in cleaned if item.index not in errors]
    for _attempt in range(len(pending) + 1):
        if not pending:
            return BatchOutcome([], errors, frozenset(conflicts))
        try:
            results = _run(lambda batch=pending: _write(batch, ctx, actor, finder=_BY_IDENTITY, tag_source=tag_source))
        except (InvalidInput, IdentityConflict) as exc:
            refused = exc.details.get("items")
            if not isinstance(refused, dict) or not refused:
                raise
            for key, problems in refused.items():
                errors[int(key)] = problems
                if isinstance(exc, IdentityConflict):
                    conflicts.add(int(key))
            pending = [item for item in pending if item.index not in errors]
            continue
        return BatchOutcome(results, errors, frozenset(conflicts))
    raise Conflict(_("Concurrent changes kept moving these identities; try again."), code="busy")


def _check_batch(items, actor, tag_source) -> tuple[list[_Item], ProfileContext, dict[int, dict]]:
    """Every item checked before anything is written: its fields, its tags, and identities that
    appear in two items (an error on both)."""
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
    return cleaned, ctx, {i: e for i, e in errors.items() if e}


def update_member(*, member: Member, profile: dict, actor) -> Member:
    """Edit profile fields of one member (PATCH semantics). A new phone is also recorded as a
    phone identity; another member holding it is an IdentityConflict."""
    ctx = ProfileContext.load(actor, [profile or {}])
    item, errors = _clean(0, [], profile, None, ctx, require_identity=False)
    if errors:
        raise InvalidInput(details=errors)
    try:
        _run(lambda: _write([item], ctx, actor, finder=_Target(member), tag_source=TagSource.MANUAL))
    except (InvalidInput, IdentityConflict) as exc:
        raise _unwrap(exc) from None
    return Member.objects.select_related("home_store", "owner").get(pk=member.pk)


def profile_errors(*, profile: dict, actor, member: Member | None = None) -> dict:
    """The field errors update_member (or create_member, without `member`) would answer for
    `profile`, found without writing, for a form that shows them beside its fields. Identities are
    not looked at: a phone another member holds is still the write's IdentityConflict."""
    ctx = ProfileContext.load(actor, [profile or {}])
    cleaned, errors = clean_profile(profile, ctx)
    if errors:
        return errors
    errors = resolve_store_and_owner(cleaned, member, ctx)
    values = cleaned.get("attributes")
    if values and "attributes" not in errors:
        have = attributes.granted_purposes([member.pk]).get(member.pk, set()) if member is not None else set()
        consent = attributes.consent_errors(values, ctx.definitions, have)
        if consent:
            errors["attributes"] = consent
    return errors


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


# How a call finds the member each item is about: by its identities (upsert), never (create: any
# identity held is a conflict), or given (update: identities held by anyone else are a conflict).


class _ByIdentity:
    def member_for(self, found: list[int]) -> tuple[int | None, bool]:
        """(the member the item is about or None for a new one, whether the identities conflict)."""
        if len(found) > 1:
            return None, True
        return (found[0] if found else None), False

    def gone(self):
        """The member found was merged or erased after we read its identities."""
        raise _Retry  # the identity moved (merge) or went (erasure); read again


class _NewOnly(_ByIdentity):
    def member_for(self, found: list[int]) -> tuple[int | None, bool]:
        return None, bool(found)


@dataclass(frozen=True)
class _Target(_ByIdentity):
    member: Member

    def member_for(self, found: list[int]) -> tuple[int | None, bool]:
        return self.member.pk, any(m != self.member.pk for m in found)

    def gone(self):
        raise InvalidInput(details={"non_field_errors": [_("This member was merged or erased.")]})


_BY_IDENTITY, _NEW_ONLY = _ByIdentity(), _NewOnly()


def _write(items: list[_Item], ctx: ProfileContext, actor, *, finder: _ByIdentity,
           tag_source: str) -> list[UpsertResult]:
    """One attempt: find the members, check what needs them, then write every table once."""
    batch = _Batch(items=items, ctx=ctx, actor=actor)
    batch.find_members(finder)
    batch.check_writes()
    batch.create_members()
    batch.add_identities()
    batch.update_profiles()
    tags.apply_pairs([(batch.member_of[item.index], tag) for item in items for tag in item.tags],
                     actor=actor, source=tag_source)
    return batch.record()


@dataclass
class _Batch:
    """The state of one write attempt, step by step (see _write)."""

    items: list[_Item]
    ctx: ProfileContext
    actor: object
    held: dict[IdentityKey, int] = field(default_factory=dict)  # identity -> member holding it before the write
    member_of: dict[int, int | None] = field(default_factory=dict)  # item index -> member id (None: new)
    members: dict[int, Member] = field(default_factory=dict)
    profiles: dict[int, dict] = field(default_factory=dict)
    new_indexes: set[int] = field(default_factory=set)
    changes_of: dict[int, dict] = field(default_factory=dict)
    now: object = None

    # --- finding --------------------------------------------------------------------------------

    def find_members(self, finder: _ByIdentity) -> None:
        """Lock and read the identities, pick each item's member, lock those members; conflicts raise."""
        all_keys = [key for item in self.items for key in item.keys]
        if len(all_keys) <= LOCK_LIMIT:
            identities.lock(all_keys)
        self.held = identities.owners(all_keys)
        conflicts: dict[int, dict] = {}
        for item in self.items:
            member_id, conflict = finder.member_for(sorted({self.held[k] for k in item.keys if k in self.held}))
            if conflict:
                conflicts[item.index] = _conflict(item, self.held, self.actor)
            if member_id is not None or not conflict:  # an update keeps its member: it may be gone too
                self.member_of[item.index] = member_id
        self._lock_members()
        conflicts.update(self._out_of_reach(finder))
        if conflicts:
            messages = [conflict.pop("message", None) for conflict in conflicts.values()]
            raise IdentityConflict(
                messages[0] or _("These identities belong to different members; merge them first."),
                details={"items": {str(i): conflicts[i] for i in sorted(conflicts)}},
            )

    def _lock_members(self) -> None:
        wanted = sorted({m for m in self.member_of.values() if m is not None})
        self.members = {
            m.pk: m
            for m in Member.objects.select_for_update(of=("self",)).select_related("home_store", "owner")
            .filter(pk__in=wanted).order_by("pk")
        }

    def _out_of_reach(self, finder: _ByIdentity) -> dict[int, dict]:
        """Members gone since their identities were read (finder.gone()), and members of another store."""
        conflicts = {}
        for index, member_id in self.member_of.items():
            if member_id is None:
                continue
            member = self.members.get(member_id)
            if member is None or not member.is_live:
                finder.gone()
            if not self.ctx.access.allows_store(member.home_store_id):
                item = next(i for i in self.items if i.index == index)
                conflicts[index] = {
                    "identities": [{"identity": k.as_dict(), "label": k.label} for k in item.keys if k in self.held],
                    "reason": "other_store",
                    "message": _("These identities belong to a member of another store."),
                }
        return conflicts

    # --- checking what needs the member ---------------------------------------------------------

    def check_writes(self) -> None:
        """One item per member, the home store and owner, consent for attribute values; errors raise."""
        errors = self._same_member_twice()
        self.profiles = {item.index: dict(item.profile) for item in self.items}  # resolving adds fields
        granted = self._granted_purposes()
        for item in self.items:
            member = self.members.get(self.member_of[item.index])
            profile = self.profiles[item.index]
            item_errors = resolve_store_and_owner(profile, member, self.ctx)
            values = profile.get("attributes")
            if values:
                have = granted.get(member.pk, set()) if member is not None else set()
                consent = attributes.consent_errors(values, self.ctx.definitions, have)
                if consent:
                    item_errors["attributes"] = consent
            if item_errors:
                errors.setdefault(item.index, {}).update(item_errors)
        if errors:
            raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})

    def _same_member_twice(self) -> dict[int, dict]:
        errors: dict[int, dict] = {}
        first_item_of: dict[int, int] = {}
        for item in self.items:
            member_id = self.member_of[item.index]
            if member_id is None:
                continue
            other = first_item_of.setdefault(member_id, item.index)
            if other != item.index:
                for here, there in ((item.index, other), (other, item.index)):
                    errors.setdefault(here, {}).setdefault("identities", []).append(
                        _("Item %(other)d finds the same member; send one item per member.") % {"other": there}
                    )
        return errors

    def _granted_purposes(self) -> dict[int, set[str]]:
        needs_consent = [
            self.member_of[item.index] for item in self.items
            if self.member_of[item.index] and any(
                v is not None and attributes.consents_needed(self.ctx.definitions[c])
                for c, v in (item.profile.get("attributes") or {}).items()
            )
        ]
        return attributes.granted_purposes(needs_consent) if needs_consent else {}

    # --- writing --------------------------------------------------------------------------------

    def create_members(self) -> None:
        self.now = timezone.now()
        new_items = [item for item in self.items if self.member_of[item.index] is None]
        self.new_indexes = {item.index for item in new_items}
        created = [_new_member(self.profiles[item.index], self.now) for item in new_items]
        _insert_members(created, self.now)
        for item, member in zip(new_items, created, strict=True):
            self.member_of[item.index] = member.pk
            self.members[member.pk] = member
        # member.joined before the new members' tags, so a receiver hears them in that order.
        scrm_events.emit_many(JOINED, [
            (member.pk, member.home_store_id, joined_data(member.source, item.keys))
            for item, member in zip(new_items, created, strict=True)
        ], at=self.now)

    def add_identities(self) -> None:
        pairs = [(self.member_of[item.index], key) for item in self.items for key in item.keys
                 if self.held.get(key) != self.member_of[item.index]]
        if len(identities.insert(pairs)) != len(pairs):
            raise _Retry  # a concurrent writer took one of these identities first

    def update_profiles(self) -> None:
        """Existing members' changed fields in one UPDATE; owner relations follow Member.owner."""
        changed_members, owner_rows = [], []
        for item in self.items:
            member = self.members[self.member_of[item.index]]
            profile = self.profiles[item.index]
            if item.index in self.new_indexes:
                if profile.get("owner") is not None:
                    owner_rows.append((member.pk, profile["owner"].pk, profile["owner"].store_id))
                continue
            to_set, changes = diff(member, profile, self.ctx.definitions)
            if not to_set:
                continue
            for name, value in to_set.items():
                setattr(member, name, value)
            changed_members.append(member)
            self.changes_of[item.index] = changes
            if "owner" in to_set:
                owner = to_set["owner"]
                owner_rows.append((member.pk, owner.pk if owner else None, owner.store_id if owner else None))
        _update_members(changed_members, self.now)
        relations.sync_owners(owner_rows)

    def record(self) -> list[UpsertResult]:
        """The timeline (created / updated / identities added) in one INSERT, and the results."""
        timeline, results = [], []
        for item in self.items:
            member_id = self.member_of[item.index]
            added = tuple(key.label for key in item.keys if self.held.get(key) != member_id)
            is_new = item.index in self.new_indexes
            timeline.extend(self._events(item, member_id, added, is_new))
            results.append(UpsertResult(
                index=item.index, member_id=member_id, created=is_new,
                changed=tuple(sorted(self.changes_of.get(item.index, {}))), identities_added=added,
            ))
        events.record_many(timeline)
        return results

    def _events(self, item: _Item, member_id: int, added: tuple[str, ...], is_new: bool) -> list:
        if is_new:
            profile = self.profiles[item.index]
            return [events.event(member_id, MemberEvent.Kind.CREATED, self.actor, {
                "identities": list(added), "fields": sorted(profile),
                "source": profile.get("source", DEFAULTS["source"]),
            }, at=self.now)]
        found = []
        if item.index in self.changes_of:
            found.append(events.event(member_id, MemberEvent.Kind.UPDATED, self.actor,
                                      {"changes": self.changes_of[item.index]}, at=self.now))
        if added:
            found.append(events.event(member_id, MemberEvent.Kind.IDENTITY_ADDED, self.actor,
                                      {"identities": list(added)}, at=self.now))
        return found


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

