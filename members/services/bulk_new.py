"""Brand-new members by the thousand in a few statements, for connectors whose first sync brings
people Siyu has never seen (the WeCom initial contact sync): the set-based twin of the upsert's
per-item path (members.services.upsert) for the one case it covers, with the same rows, timeline
and hooks as that path writes for a new member.

An item fits (`fits`) when every identity is new to the item and already clean, its values are
what the per-item path would store unchanged, and its home store is open; anything else belongs to
the per-item path, which knows the rules for existing identities, conflicts and bad values.

Two steps, both inside the caller's transaction:

1. `claim`: member ids are drawn from the sequence and every identity is INSERTed with ON CONFLICT
   DO NOTHING, in key order (the order members.services.identities.insert uses, so the two paths
   cannot deadlock each other). The unique index is the arbiter, as for the per-item path: an
   identity another writer holds (a second sync lane that got there first, whose commit this
   statement waited for) is not taken; such an item keeps none of its identities and is handed
   back (`Claim.taken`) for the per-item path, which then finds the winner's member.
2. `Claim.create`: the members and their `created` timeline events in one statement; the segment
   bitmap triggers fire for it as for any member INSERT. The identity foreign keys are checked at
   commit, so the caller may write rows pointing at the new members (relations, contacts) between
   the two steps, keeping the member INSERT (which locks the bitmap rows until commit) late."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from members import hooks
from members import sql as msql
from members.models import Channel, Gender, MemberEvent
from members.services.identities import BRAND_WIDE, CHANNELS, EXTERNAL_ID_MAX, NAMESPACE_MAX, IdentityKey
from members.services.profile import DEFAULTS, NAME_MAX
from members.services.upsert import JOINED, joined_data
from scrm import events
from scrm.actors import actor_label, actor_user
from scrm.models import Store
from scrm.scoping import Access, access_for
from scrm.sql import array

GENDERS = frozenset(Gender.values)


@dataclass(frozen=True)
class NewMember:
    """A person to create: identities (clean keys) and the profile fields given (None: not given,
    as a key left out of an upsert's profile)."""

    keys: tuple[IdentityKey, ...]
    name: str | None = None
    gender: str | None = None
    home_store: Store | None = None

    @property
    def fields(self) -> list[str]:
        """The profile fields given, as the `created` event lists them."""
        given = (("gender", self.gender), ("home_store", self.home_store), ("name", self.name))
        return [name for name, value in given if value is not None]


def _clean_key(key: IdentityKey) -> bool:
    channel, namespace, external_id = key
    if channel not in CHANNELS or channel == Channel.PHONE:  # phones are normalised by the per-item path
        return False
    if not isinstance(namespace, str) or namespace != namespace.strip() or len(namespace) > NAMESPACE_MAX:
        return False
    if namespace and channel in BRAND_WIDE:
        return False
    return (isinstance(external_id, str) and 0 < len(external_id) <= EXTERNAL_ID_MAX
            and external_id == external_id.strip())


def fits(item: NewMember, access: Access) -> bool:
    """Whether the per-item path would create this member from these values exactly as given (so
    the set-based path may): clean distinct identities, a clean name and gender, an open home
    store, and an actor reaching every store (a store account's members get its store there)."""
    if not access.all_stores or not item.keys or len(set(item.keys)) != len(item.keys):
        return False
    if not all(_clean_key(key) for key in item.keys):
        return False
    if item.name is not None and (
        not isinstance(item.name, str) or item.name != item.name.strip() or len(item.name) > NAME_MAX
    ):
        return False
    if item.gender is not None and item.gender not in GENDERS:
        return False
    return item.home_store is None or bool(item.home_store.is_active)


@dataclass
class Claim:
    """Identities claimed for new members; `create()` writes the members before the transaction ends."""

    items: list[NewMember]
    actor: object
    member_of: dict[int, int] = field(default_factory=dict)  # item index -> new member id
    taken: list[int] = field(default_factory=list)  # item indexes for the per-item path
    identity_ids: list[int] = field(default_factory=list)
    created: bool = False

    def create(self) -> int:
        """INSERT the members claimed and their `created` events (one statement); returns how many."""
        if self.created:
            raise RuntimeError("These members were created already.")
        self.created = True
        if not self.member_of:
            return 0
        now = timezone.now()
        order = sorted(self.member_of.items(), key=lambda pair: pair[1])
        rows = [(member_id, self.items[index]) for index, member_id in order]
        user = actor_user(self.actor)
        source = DEFAULTS["source"]
        data = [
            json.dumps({"identities": [key.label for key in item.keys], "fields": item.fields, "source": source},
                       ensure_ascii=False)
            for _member_id, item in rows
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH created AS (
                    INSERT INTO {msql.MEMBER} (id, name, phone, gender, birthday, home_store_id, owner_id,
                        source, stage, attributes, created_at, updated_at)
                    SELECT r.id, r.name, '', r.gender, NULL, r.home_store_id, NULL, %s, %s, '{{}}'::jsonb, %s, %s
                    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[])
                         AS r(id, name, gender, home_store_id)
                    RETURNING id
                )
                INSERT INTO {msql.MEMBER_EVENT} (member_id, kind, data, actor_id, actor_label, created_at)
                SELECT r.id, %s, r.data::jsonb, %s, %s, %s
                FROM unnest(%s::bigint[], %s::text[]) AS r(id, data)""",
                [
                    source, DEFAULTS["stage"], now, now,
                    array(m for m, _i in rows), array(i.name or "" for _m, i in rows),
                    array(i.gender or DEFAULTS["gender"] for _m, i in rows),
                    array(i.home_store.pk if i.home_store is not None else None for _m, i in rows),
                    MemberEvent.Kind.CREATED, user.pk if user is not None else None, actor_label(self.actor), now,
                    array(m for m, _i in rows), array(data),
                ],
            )
        hooks.identities_added(identity_ids=self.identity_ids)
        return len(rows)


def claim(*, items: list[NewMember], actor) -> Claim:
    """Draw member ids and INSERT the identities of `items` (each checked with `fits`; a caller
    passing one that does not fit gets it back in `taken`). Items sharing an identity with another
    item, or with an identity someone holds, are handed back in `taken` with none of their
    identities kept. The caller calls `create()` on the answer in the same transaction."""
    result = Claim(items=list(items), actor=actor)
    access = access_for(actor)
    seen: dict[IdentityKey, int] = {}
    shared: set[int] = set()
    for index, item in enumerate(result.items):
        for key in item.keys:
            other = seen.setdefault(key, index)
            if other != index:
                shared |= {index, other}
    chosen = [i for i, item in enumerate(result.items) if i not in shared and fits(item, access)]
    result.taken = sorted(set(range(len(result.items))) - set(chosen))
    if not chosen:
        return result
    pairs = sorted(((n, key) for n, index in enumerate(chosen) for key in result.items[index].keys),
                   key=lambda pair: tuple(pair[1]))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH drawn AS MATERIALIZED (
                SELECT n - 1 AS n, nextval(pg_get_serial_sequence('{msql.MEMBER}', 'id')) AS member_id
                FROM generate_series(1, %s) AS n
            ), inserted AS (
                INSERT INTO {msql.IDENTITY} (member_id, channel, namespace, external_id, created_at)
                SELECT d.member_id, k.channel, k.namespace, k.external_id, now()
                FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY
                     AS k(n, channel, namespace, external_id, position)
                JOIN drawn d ON d.n = k.n
                ORDER BY k.position
                ON CONFLICT (channel, namespace, external_id) DO NOTHING
                RETURNING id, member_id
            )
            SELECT d.n, d.member_id, array_remove(array_agg(i.id), NULL)
            FROM drawn d LEFT JOIN inserted i ON i.member_id = d.member_id
            GROUP BY d.n, d.member_id""",
            [len(chosen), array(n for n, _k in pairs), array(k.channel for _n, k in pairs),
             array(k.namespace for _n, k in pairs), array(k.external_id for _n, k in pairs)],
        )
        rows = cursor.fetchall()
        partial: list[int] = []
        for n, member_id, identity_ids in rows:
            index = chosen[n]
            if len(identity_ids) == len(result.items[index].keys):
                result.member_of[index] = member_id
                result.identity_ids += identity_ids
            else:
                result.taken.append(index)
                partial += identity_ids
        if partial:  # an item whose other identity someone holds keeps none: the per-item path decides
            cursor.execute(f"DELETE FROM {msql.IDENTITY} WHERE id = ANY(%s::bigint[])", [array(partial)])
    result.taken.sort()
    # member.joined now, not in create(): the caller may tag the new members in between, and a
    # receiver hears a member join before anything else about it (the same transaction either way).
    events.emit_many(JOINED, [
        (member_id, item.home_store.pk if item.home_store is not None else None,
         joined_data(DEFAULTS["source"], item.keys))
        for index, member_id in sorted(result.member_of.items(), key=lambda pair: pair[1])
        for item in (result.items[index],)
    ])
    return result

