"""Identities: the ways we know one person on each channel (the "1+N" pools), and the rules for
one (channel, namespace, external_id) that the file import (members.io) applies too.

(channel, namespace, external_id) is unique across the brand; that unique index is what finally
keeps two members from sharing an identity, whatever runs concurrently."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from members import hooks
from members.errors import IdentityConflict
from members.models import Channel, Identity, Member, MemberEvent
from members.phones import InvalidPhone, normalize_phone
from members.services import events
from scrm.errors import InvalidInput
from scrm.scoping import access_for
from scrm.sql import array

# Ids that mean the same person brand-wide whatever app or shop reported them: no namespace.
BRAND_WIDE = frozenset({Channel.WECHAT_UNIONID, Channel.PHONE, Channel.EMAIL})
CHANNELS = frozenset(Channel.values)
EXTERNAL_ID_MAX = Identity._meta.get_field("external_id").max_length
NAMESPACE_MAX = Identity._meta.get_field("namespace").max_length


class IdentityKey(NamedTuple):
    channel: str
    namespace: str
    external_id: str

    @property
    def label(self) -> str:
        middle = f"{self.namespace}/" if self.namespace else ""
        return f"{self.channel}:{middle}{self.external_id}"

    def as_dict(self) -> dict:
        return {"channel": self.channel, "namespace": self.namespace, "external_id": self.external_id}

    @property
    def lock_id(self) -> int:
        digest = hashlib.blake2b("\x1f".join(self).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)


def clean_identity(raw) -> tuple[IdentityKey | None, dict]:
    """One {channel, namespace, external_id} -> (key, {}) or (None, {field: [message]})."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Expected an object with channel and external_id.")]}
    errors: dict[str, list] = {}
    unknown = set(raw) - {"channel", "namespace", "external_id"}
    for name in sorted(unknown):
        errors[name] = [_("Unknown field.")]
    channel = raw.get("channel")
    if not isinstance(channel, str) or channel not in CHANNELS:
        channel = channel if isinstance(channel, str | int | float | None) else type(channel).__name__
        errors["channel"] = [_("Unknown channel %(value)s; one of: %(choices)s.")
                             % {"value": channel, "choices": ", ".join(Channel.values)}]
    namespace = raw.get("namespace") or ""
    if not isinstance(namespace, str) or len(namespace.strip()) > NAMESPACE_MAX:
        errors["namespace"] = [_("At most %(max)d characters of text.") % {"max": NAMESPACE_MAX}]
    else:
        namespace = namespace.strip()
        if channel in BRAND_WIDE and namespace:
            errors["namespace"] = [_("A %(channel)s identity has no namespace.") % {"channel": channel}]
    external_id = raw.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        errors["external_id"] = [_("This field is required.")]
    elif len(external_id.strip()) > EXTERNAL_ID_MAX:
        errors["external_id"] = [_("At most %(max)d characters.") % {"max": EXTERNAL_ID_MAX}]
    else:
        external_id = external_id.strip()
        if channel == Channel.PHONE:
            try:
                external_id = normalize_phone(external_id)
            except InvalidPhone as exc:
                errors["external_id"] = [str(exc)]
        elif channel == Channel.EMAIL:
            external_id = external_id.lower()
            try:
                validate_email(external_id)
            except ValidationError:
                errors["external_id"] = [_("Not an email address.")]
    if errors:
        return None, errors
    return IdentityKey(channel, namespace, external_id), {}


def clean_identities(raw) -> tuple[list[IdentityKey], dict]:
    """A list of identities -> (distinct keys in order, errors by index)."""
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        return [], {"non_field_errors": [_("Expected a list of identities.")]}
    keys, errors = [], {}
    for index, item in enumerate(raw):
        key, item_errors = clean_identity(item)
        if item_errors:
            errors[str(index)] = item_errors
        elif key not in keys:
            keys.append(key)
    return keys, errors


def lock(keys) -> None:
    """Serialise concurrent writers of the same identities until this transaction ends. Locks are
    taken in one order, so two writers holding overlapping keys cannot deadlock."""
    ids = sorted({key.lock_id for key in keys})
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(h)) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(h, n)",
                [ids],
            )


def owners(keys) -> dict[IdentityKey, int]:
    """Which member holds each key (absent keys are left out), in one query: one probe of the unique
    index per key (LATERAL ... LIMIT 1), whatever the table's statistics say; a plain join was
    planned as a hash over every identity when they lagged behind a table being filled."""
    keys = list(keys)
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT k.channel, k.namespace, k.external_id, i.member_id
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(channel, namespace, external_id)
            CROSS JOIN LATERAL (SELECT member_id FROM members_identity i WHERE i.channel = k.channel
                                AND i.namespace = k.namespace AND i.external_id = k.external_id LIMIT 1) i""",
            [array(k.channel for k in keys), array(k.namespace for k in keys), array(k.external_id for k in keys)],
        )
        return {IdentityKey(c, n, e): member_id for c, n, e, member_id in cursor.fetchall()}


def insert(pairs) -> set[IdentityKey]:
    """INSERT (member_id, key) pairs in key order, skipping keys someone holds; returns the keys inserted."""
    pairs = sorted(pairs, key=lambda pair: tuple(pair[1]))
    if not pairs:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO members_identity (member_id, channel, namespace, external_id, created_at)
            SELECT member_id, channel, namespace, external_id, now()
            FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY
                 AS r(member_id, channel, namespace, external_id, n)
            ORDER BY n
            ON CONFLICT (channel, namespace, external_id) DO NOTHING
            RETURNING id, channel, namespace, external_id""",
            [[m for m, _k in pairs], [k.channel for _m, k in pairs], [k.namespace for _m, k in pairs],
             [k.external_id for _m, k in pairs]],
        )
        rows = cursor.fetchall()
    hooks.identities_added(identity_ids=[row[0] for row in rows])
    return {IdentityKey(*row[1:]) for row in rows}


def conflict_details(key: IdentityKey, member_id: int, actor) -> dict:
    """What a caller may learn about a key held by another member: the member id only if it may see it."""
    visible = Member.objects.filter(pk=member_id).values_list("home_store_id", flat=True).first()
    detail = {"identity": key.as_dict(), "label": key.label}
    if access_for(actor).allows_store(visible):
        detail["member"] = member_id
    return detail


@transaction.atomic
def add_identity(*, member: Member, channel: str, external_id: str, namespace: str = "", actor) -> Identity:
    """Attach one identity to a member. Adding one it already has is a no-op; one another member
    holds is an IdentityConflict (merge the two instead)."""
    key, errors = clean_identity({"channel": channel, "namespace": namespace, "external_id": external_id})
    if errors:
        raise InvalidInput(details=errors)
    lock([key])
    holder = owners([key]).get(key)
    if holder == member.pk:
        return Identity.objects.get(member=member, **key._asdict())
    if holder is not None:
        raise IdentityConflict(
            _("%(identity)s belongs to another member.") % {"identity": key.label},
            details={"identities": [conflict_details(key, holder, actor)]},
        )
    try:
        with transaction.atomic():
            identity = Identity.objects.create(member=member, **key._asdict())
    except IntegrityError:  # a writer that does not take the advisory lock got there first
        raise IdentityConflict(
            _("%(identity)s belongs to another member.") % {"identity": key.label},
            details={"identities": [{"identity": key.as_dict(), "label": key.label}]},
        ) from None
    if key.channel == Channel.PHONE and not member.phone:
        Member.objects.filter(pk=member.pk).update(phone=key.external_id)
        member.phone = key.external_id
    events.record(member.pk, MemberEvent.Kind.IDENTITY_ADDED, actor, {"identities": [key.label]})
    hooks.identities_added(identity_ids=[identity.pk])
    return identity


@transaction.atomic
def remove_identity(*, identity: Identity, actor) -> None:
    label = str(identity)
    member_id = identity.member_id
    identity.delete()
    events.record(member_id, MemberEvent.Kind.IDENTITY_REMOVED, actor, {"identities": [label]})
