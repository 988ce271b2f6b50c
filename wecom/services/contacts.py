"""The one write path from WeCom's external contacts into the member centre, used by the full and
incremental syncs and by the callback handlers alike.

A page is the contacts of one staff member as WeCom answers them (external_contact + follow info).
For each, a digest of what Siyu writes from the contact (to the member) and from the follow (to the
staff relation); one query reads the stored digests, and only new or changed rows are written, set
based: members and identities through members.services.upsert.bulk_upsert_members_per_item, staff
relations through members.services.relations.bulk_upsert_relations, then WecomContact and
WecomFollow in one statement each. A contact whose external_userid was erased on a data-subject
request (its SHA-256 is in ErasedContact) is skipped, never re-created. Contacts that left a staff
member's list are marked deleted on the follow and the relation (churn)."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property

from django.db import connection, transaction
from django.utils import timezone

from members import sql as msql
from members.models import AddWay, Channel, Gender, Member, TagSource
from members.services import bulk_new, upsert
from members.services import relations as relation_services
from members.services.identities import IdentityKey, owners
from scrm.actors import SystemActor
from scrm.sql import array
from wecom import sql
from wecom.models import CorpTagLink, DeletedBy, WecomContact, WecomFollow, WecomStaff

logger = logging.getLogger(__name__)

SYNC_ACTOR = SystemActor("wecom:contacts")
NAME_MAX = Member._meta.get_field("name").max_length
ID_MAX = WecomContact._meta.get_field("external_userid").max_length
REMARK_MAX, DESCRIPTION_MAX = relation_services.REMARK_MAX, relation_services.DESCRIPTION_MAX
STATE_MAX = WecomFollow._meta.get_field("state").max_length

# WeCom's numeric add_way (WECOM.md) -> the member centre's AddWay.
ADD_WAYS = {1: AddWay.QR, 2: AddWay.SEARCH, 3: AddWay.CARD, 4: AddWay.GROUP, 5: AddWay.SEARCH, 201: AddWay.CARD}
GENDERS = {1: Gender.MALE, 2: Gender.FEMALE}


def erased_digest(external_userid: str) -> str:
    return hashlib.sha256(external_userid.encode()).hexdigest()


# json.dumps with these arguments, built once (dumps builds an encoder per call otherwise).
_DIGEST_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_quoted = json.encoder.encode_basestring  # a JSON string, as _DIGEST_JSON writes it (the C encoder)


def _blake(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _digest(values) -> str:
    """The stored digest's definition: the JSON of the values, hashed (the two below write it faster)."""
    return _blake(_DIGEST_JSON.encode(values))


def contact_digest(name: str, gender: str, unionid: str, kind: int) -> str:
    """_digest([name, gender, unionid, kind]), the same text written directly (tests compare the two):
    the encoder's per-call work was a tenth of a contact's Python."""
    return _blake(f"[{_quoted(name)},{_quoted(gender)},{_quoted(unionid)},{kind}]")


def follow_digest(remark: str, description: str, state: str, add_way: int, added_at, tag_ids: list[str]) -> str:
    """_digest([remark, description, state, add_way, added_at, tag_ids]), written directly."""
    added = "null" if added_at is None else _quoted(str(added_at))
    tags = ",".join(map(_quoted, tag_ids))
    return _blake(f"[{_quoted(remark)},{_quoted(description)},{_quoted(state)},{add_way},{added},[{tags}]]")


def _text(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def follow_tag_ids(follow: dict) -> list[str]:
    """The corp tags on a follow: batch/get_by_user gives tag_id[], externalcontact/get tags[] (type
    1 is a corp tag)."""
    ids = [t for t in follow.get("tag_id") or [] if isinstance(t, str)]
    ids += [t.get("tag_id") for t in follow.get("tags") or [] if isinstance(t, dict) and t.get("type", 1) == 1]
    return sorted({t for t in ids if isinstance(t, str) and t})


@dataclass
class Item:
    """One contact of one staff member, as Siyu writes it."""

    external_userid: str
    name: str
    gender: str
    unionid: str
    kind: int
    remark: str
    description: str
    state: str
    add_way: int
    added_at: datetime.datetime | None
    tag_ids: list[str]
    contact_digest: str = ""
    follow_digest: str = ""

    @classmethod
    def parse(cls, contact: dict, follow: dict) -> Item | None:
        external_userid = contact.get("external_userid") if isinstance(contact, dict) else None
        if not isinstance(external_userid, str) or not 0 < len(external_userid) <= ID_MAX:
            return None
        if not isinstance(follow, dict):
            return None
        created = _int(follow.get("createtime"), 0)
        item = cls(
            external_userid=external_userid,
            name=_text(contact.get("name"), NAME_MAX),
            gender=GENDERS.get(_int(contact.get("gender")), Gender.UNKNOWN),
            unionid=_text(contact.get("unionid"), ID_MAX),
            kind=2 if _int(contact.get("type"), 1) == 2 else 1,
            remark=_text(follow.get("remark"), REMARK_MAX),
            description=_text(follow.get("description"), DESCRIPTION_MAX),
            state=_text(follow.get("state"), STATE_MAX),
            add_way=_int(follow.get("add_way")),
            added_at=datetime.datetime.fromtimestamp(created, tz=datetime.UTC) if created > 0 else None,
            tag_ids=follow_tag_ids(follow),
        )
        item.contact_digest = contact_digest(item.name, item.gender, item.unionid, item.kind)
        item.follow_digest = follow_digest(
            item.remark, item.description, item.state, item.add_way, item.added_at, item.tag_ids
        )
        return item

    @cached_property
    def keys(self) -> list[dict]:
        found = [{"channel": Channel.WECOM, "external_id": self.external_userid}]
        if self.unionid:
            found.append({"channel": Channel.WECHAT_UNIONID, "external_id": self.unionid})
        return found


@dataclass
class Failure:
    reason: str
    external_userid: str = ""
    detail: str = ""


@dataclass
class Outcome:
    """What writing one page did, per follow relation of the staff member."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    members_created: int = 0
    failures: list[Failure] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def add(self, other: Outcome) -> None:
        for name in ("added", "updated", "unchanged", "failed", "skipped", "members_created"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.seen |= other.seen


def erased_among(external_userids) -> set[str]:
    digests = {erased_digest(e): e for e in external_userids}
    if not digests:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT digest FROM {sql.ERASED_CONTACT} WHERE digest = ANY(%s::text[])", [array(digests)])
        return {digests[d] for (d,) in cursor.fetchall()}


@dataclass
class _Stored:
    contact_id: int
    member_id: int | None
    live: bool
    contact_digest: str
    follow_id: int | None
    follow_digest: str
    follow_deleted: bool
    relation_id: int | None


def _stored(staff: WecomStaff, external_userids: list[str]) -> dict[str, _Stored]:
    """The contacts already known and this staff member's follow of each: one query, one index probe
    per id (LATERAL ... LIMIT 1), whatever the planner's statistics say about tables that a first
    sync is filling."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT v.ext, c.id, c.member_id, m.merged_into_id, m.erased_at, c.digest,
                   f.id, f.digest, f.deleted_at, f.relation_id
            FROM unnest(%s::text[]) AS v(ext)
            CROSS JOIN LATERAL (SELECT id, member_id, digest FROM {sql.CONTACT}
                                WHERE external_userid = v.ext LIMIT 1) c
            LEFT JOIN LATERAL (SELECT merged_into_id, erased_at FROM {msql.MEMBER}
                               WHERE id = c.member_id LIMIT 1) m ON true
            LEFT JOIN LATERAL (SELECT id, digest, deleted_at, relation_id FROM {sql.FOLLOW}
                               WHERE contact_id = c.id AND staff_id = %s LIMIT 1) f ON true""",
            [array(external_userids), staff.pk],
        )
        rows = cursor.fetchall()
    return {
        ext: _Stored(
            contact_id=pk, member_id=member_id, live=member_id is not None and merged is None and erased is None,
            contact_digest=digest, follow_id=follow_id, follow_digest=follow_digest or "",
            follow_deleted=deleted is not None, relation_id=relation_id,
        )
        for ext, pk, member_id, merged, erased, digest, follow_id, follow_digest, deleted, relation_id in rows
    }


def apply_page(*, staff: WecomStaff, entries, actor=SYNC_ACTOR, set_based: bool = True) -> Outcome:
    """Write one page of `staff`'s contacts ([(external_contact, follow_info)]): only what changed.
    The caller holds the transaction (with the cursor it saves). Brand-new contacts (no identity
    held, values the member centre takes as they are) become members set-based
    (members.services.bulk_new); the rest, and those a concurrent writer got first, go through the
    per-item upsert. set_based=False sends every contact through the per-item upsert (the
    reference the set-based path is tested against)."""
    outcome = Outcome()
    items: dict[str, Item] = {}
    for contact, follow in entries:
        item = Item.parse(contact, follow)
        if item is None:
            outcome.failed += 1
            outcome.failures.append(Failure("bad_contact"))
            continue
        items[item.external_userid] = item
    outcome.seen = set(items)
    for external_userid in erased_among(items):
        del items[external_userid]
        outcome.skipped += 1
    if not items:
        return outcome
    stored = _stored(staff, list(items))
    to_member = [i for i in items.values() if _contact_changed(i, stored.get(i.external_userid))]
    members, new_members = _write_members(staff, to_member, stored, outcome, actor, set_based)
    follows = []
    refused = {i.external_userid for i in to_member} - set(members)
    for item in items.values():
        known = stored.get(item.external_userid)
        if item.external_userid in members:
            follows.append(item)
        elif item.external_userid in refused:
            continue  # its member could not be written: counted as failed
        elif _follow_changed(item, known):
            members[item.external_userid] = known.member_id
            follows.append(item)
        else:
            outcome.unchanged += 1
    contact_ids = _write_contacts([i for i in to_member if i.external_userid in members], members, stored)
    _write_follows(staff, follows, members, contact_ids, stored, outcome, actor)
    outcome.members_created += new_members.create()  # late: the INSERT locks segment bitmap rows until commit
    _apply_tags(staff, _tag_pairs(follows, members, set(new_members.member_of.values())), actor)
    return outcome


def _tag_pairs(follows: list[Item], members: dict[str, int], created: set[int]) -> list[tuple[int, Item]]:
    """The follows whose tags may change a member's: all of them, except those of members created
    just now (no tags yet) whose follow shows no corp tag Siyu has a link row for, which no tag
    rule can act on."""
    new_ids = {t for i in follows if members[i.external_userid] in created for t in i.tag_ids}
    linked = set(CorpTagLink.objects.filter(wecom_tag_id__in=new_ids).values_list("wecom_tag_id", flat=True)
                 ) if new_ids else set()
    return [
        (members[i.external_userid], i) for i in follows
        if members[i.external_userid] not in created or not linked.isdisjoint(i.tag_ids)
    ]


def _contact_changed(item: Item, known: _Stored | None) -> bool:
    return known is None or not known.live or known.contact_digest != item.contact_digest


def _follow_changed(item: Item, known: _Stored) -> bool:
    return (
        known.follow_id is None or known.follow_deleted or known.relation_id is None
        or known.follow_digest != item.follow_digest
    )


def _write_members(staff, items: list[Item], stored, outcome: Outcome, actor,
                   set_based: bool) -> tuple[dict[str, int], bulk_new.Claim]:
    """Upsert the members of new or changed contacts: ({external_userid: member_id} of those written,
    the claim of the brand-new ones, whose members the caller creates before the transaction ends).
    Contacts Siyu has never seen are claimed set-based first (the identity index decides, so no
    lookup is needed before); those whose identity someone holds come back for the per-item path."""
    fresh, rest = _split_fresh(items, stored) if set_based else ([], items)
    claim = bulk_new.claim(items=[_new_member(staff, item) for item in fresh], actor=actor)
    written = {fresh[index].external_userid: member_id for index, member_id in claim.member_of.items()}
    rest = rest + [fresh[index] for index in claim.taken]
    if rest:
        held = owners([IdentityKey(k["channel"], "", k["external_id"]) for item in rest for k in item.keys])
        written.update(_upsert_members(staff, rest, held, outcome, actor))
    return written, claim


def _split_fresh(items: list[Item], stored) -> tuple[list[Item], list[Item]]:
    """Contacts Siyu has never seen, with no identity shared with another item of the page (the
    per-item path reports those), apart from the rest."""
    counts: dict[str, int] = {}
    for item in items:
        if item.unionid:
            counts[item.unionid] = counts.get(item.unionid, 0) + 1
    fresh, rest = [], []
    for item in items:
        new = item.external_userid not in stored and (not item.unionid or counts[item.unionid] == 1)
        (fresh if new else rest).append(item)
    return fresh, rest


def _new_member(staff, item: Item) -> bulk_new.NewMember:
    """The same profile _upsert_members gives a new member."""
    return bulk_new.NewMember(
        keys=tuple(IdentityKey(k["channel"], "", k["external_id"]) for k in item.keys),
        name=item.name or None,
        gender=item.gender if item.gender != Gender.UNKNOWN else None,
        home_store=staff.store if staff.store_id is not None else None,
    )


def _upsert_members(staff, items: list[Item], held, outcome: Outcome, actor) -> dict[str, int]:
    """The per-item upsert of these contacts' members; {external_userid: member_id} of those written."""
    if not items:
        return {}
    batch = []
    for item in items:
        profile: dict = {}
        if item.name:
            profile["name"] = item.name
        if item.gender != Gender.UNKNOWN:
            profile["gender"] = item.gender
        is_new = not any(IdentityKey(k["channel"], "", k["external_id"]) in held for k in item.keys)
        if is_new and staff.store_id is not None:
            profile["home_store"] = staff.store.code
        batch.append({"identities": item.keys, **profile})
    result = upsert.bulk_upsert_members_per_item(items=batch, actor=actor, tag_source=TagSource.WECOM)
    written = {}
    for r in result.results:
        written[items[r.index].external_userid] = r.member_id
        outcome.members_created += int(r.created)
    for index in sorted(result.errors):
        outcome.failed += 1
        reason = "identity_conflict" if index in result.conflicts else "member_refused"
        outcome.failures.append(Failure(reason, items[index].external_userid, _error_fields(result.errors[index])))
    return written


def _error_fields(errors: dict) -> str:
    """Which fields were refused (names only: the values may be personal)."""
    return ", ".join(sorted(str(k) for k in errors))[:300] if isinstance(errors, dict) else ""


def _write_contacts(items: list[Item], members: dict[str, int], stored) -> dict[str, int]:
    """INSERT or UPDATE the written contacts; returns {external_userid: contact id} for every item."""
    ids = {ext: s.contact_id for ext, s in stored.items()}
    if not items:
        return ids
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {sql.CONTACT} AS c
                (external_userid, member_id, unionid, kind, digest, first_synced_at, synced_at)
            SELECT v.ext, v.member_id, v.unionid, v.kind, v.digest, %s, %s
            FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::smallint[], %s::text[])
                 AS v(ext, member_id, unionid, kind, digest)
            ORDER BY v.ext
            ON CONFLICT (external_userid) DO UPDATE SET member_id = EXCLUDED.member_id,
                unionid = EXCLUDED.unionid, kind = EXCLUDED.kind, digest = EXCLUDED.digest,
                synced_at = EXCLUDED.synced_at, deleted_at = NULL
            RETURNING c.external_userid, c.id""",
            [now, now, array(i.external_userid for i in items), array(members[i.external_userid] for i in items),
             array(i.unionid for i in items), array(i.kind for i in items), array(i.contact_digest for i in items)],
        )
        ids.update(dict(cursor.fetchall()))
    return ids


def _write_follows(staff, items: list[Item], members, contact_ids, stored, outcome: Outcome, actor) -> None:
    """Staff relations of the new or changed follows, then the follows themselves."""
    if not items:
        return
    now = timezone.now()
    relation_ids = relation_services.bulk_upsert_relations(
        [
            {
                "member_id": members[i.external_userid], "staff_id": staff.user_id, "store_id": staff.store_id,
                "add_way": ADD_WAYS.get(i.add_way, AddWay.OTHER), "state": i.state, "remark": i.remark,
                "description": i.description, "added_at": i.added_at or now,
            }
            for i in items
        ],
        actor=actor,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {sql.FOLLOW} AS f
                (contact_id, staff_id, relation_id, add_way, state, added_at, digest, synced_at, deleted_by)
            SELECT v.contact_id, %s, v.relation_id, v.add_way, v.state, v.added_at, v.digest, %s, ''
            FROM unnest(%s::bigint[], %s::bigint[], %s::smallint[], %s::text[], %s::timestamptz[], %s::text[])
                 AS v(contact_id, relation_id, add_way, state, added_at, digest)
            ORDER BY v.contact_id
            ON CONFLICT (contact_id, staff_id) DO UPDATE SET relation_id = EXCLUDED.relation_id,
                add_way = EXCLUDED.add_way, state = EXCLUDED.state, added_at = EXCLUDED.added_at,
                digest = EXCLUDED.digest, synced_at = EXCLUDED.synced_at, deleted_at = NULL, deleted_by = ''
            RETURNING (xmax = 0)""",
            [staff.pk, now, array(contact_ids[i.external_userid] for i in items),
             array(relation_ids.get((members[i.external_userid], staff.user_id)) for i in items),
             array(i.add_way for i in items), array(i.state for i in items), array(i.added_at for i in items),
             array(i.follow_digest for i in items)],
        )
        inserted = [row[0] for row in cursor.fetchall()]
    outcome.added += sum(inserted)
    outcome.updated += len(inserted) - sum(inserted)


def _apply_tags(staff, pairs: list[tuple[int, Item]], actor) -> None:
    """Corp tags on the follows, once their members exist: the tag engineer's
    wecom.services.tags.apply_follow_tags decides (linked tags only, its conflict rule); without it,
    linked tags are added to the member."""
    try:
        from wecom.services import tags as tag_services
    except ImportError:
        tag_services = None
    hook = getattr(tag_services, "apply_follow_tags", None)
    follows = [(member_id, item.tag_ids) for member_id, item in pairs]
    if hook is not None:
        hook(staff=staff, follows=follows, actor=actor)
        return
    wanted = {t for _m, tag_ids in follows for t in tag_ids}
    if not wanted:
        return
    from members.services import tags as member_tags
    from wecom.models import CorpTagLink

    links = {link.wecom_tag_id: link.tag for link in CorpTagLink.objects.select_related("tag__group")
             .filter(wecom_tag_id__in=wanted, tag__rule__isnull=True)}
    member_tags.apply_pairs([(m, links[t]) for m, tag_ids in follows for t in tag_ids if t in links],
                            actor=actor, source=TagSource.WECOM)


# --- churn ------------------------------------------------------------------------------------


def churn_missing(*, staff: WecomStaff, present, at=None, actor=SYNC_ACTOR) -> int:
    """The staff member's active follows whose contact is no longer in `present` (the ids WeCom
    lists for them now) are marked deleted: by whom is not known from a list, so the follow says
    nothing and the relation records that the staff member no longer has the contact."""
    present = set(present)
    active = WecomFollow.objects.filter(staff=staff, deleted_at__isnull=True).values_list(
        "id", "contact__external_userid"
    )
    gone = [pk for pk, ext in active if ext not in present]
    return mark_follows_deleted(follow_ids=gone, by="", at=at or timezone.now(), actor=actor)


@transaction.atomic
def mark_follows_deleted(*, follow_ids, by: str, at, actor=SYNC_ACTOR) -> int:
    """Mark follows deleted (by DeletedBy, or "" when not known), their relations likewise, and
    contacts left with no active follow as no longer contacts. Returns the follows marked."""
    follow_ids = sorted(follow_ids)
    if not follow_ids:
        return 0
    marked = list(
        WecomFollow.objects.filter(pk__in=follow_ids, deleted_at__isnull=True)
        .values_list("pk", "relation_id", "contact_id")
    )
    WecomFollow.objects.filter(pk__in=[m[0] for m in marked]).update(deleted_at=at, deleted_by=by)
    side = "member" if by == DeletedBy.CUSTOMER else "staff"
    relation_services.bulk_mark_deleted([(relation_id, side, at) for _pk, relation_id, _c in marked], actor=actor)
    contacts = {c for _pk, _r, c in marked}
    WecomContact.objects.filter(pk__in=contacts, deleted_at__isnull=True).exclude(
        follows__deleted_at__isnull=True
    ).update(deleted_at=at)
    return len(marked)


# --- one contact, as externalcontact/get answers it (incremental syncs and callbacks) -----------


def apply_contact_answer(answer: dict, *, actor=SYNC_ACTOR) -> Outcome:
    """Write a contact and every follow of it by a syncable staff member, from externalcontact/get;
    follows Siyu holds that WeCom no longer lists are churned. Idempotent."""
    from wecom.services.staff import is_syncable

    outcome = Outcome()
    contact = answer.get("external_contact") or {}
    external_userid = contact.get("external_userid")
    follows = [f for f in answer.get("follow_user") or [] if isinstance(f, dict) and isinstance(f.get("userid"), str)]
    found = WecomStaff.objects.select_related("store").filter(userid__in=[f["userid"] for f in follows])
    staff_by_userid = {s.userid: s for s in found}
    with transaction.atomic():
        for follow in follows:
            staff = staff_by_userid.get(follow["userid"])
            if staff is not None and is_syncable(staff):
                outcome.add(apply_page(staff=staff, entries=[(contact, follow)], actor=actor))
        if isinstance(external_userid, str) and external_userid:
            listed = set(staff_by_userid)
            gone = WecomFollow.objects.filter(
                contact__external_userid=external_userid, deleted_at__isnull=True
            ).exclude(staff__userid__in=listed).values_list("pk", flat=True)
            mark_follows_deleted(follow_ids=list(gone), by="", at=timezone.now(), actor=actor)
    return outcome


def apply_deletion(*, userid: str, external_userid: str, by: str, at=None, actor=SYNC_ACTOR) -> int:
    """A delete event: the staff member deleted the customer (by=staff) or the customer deleted the
    staff member (by=customer). A delete older than the follow's last add is ignored (events may
    arrive out of order); so is one about a follow Siyu never had. Returns the follows marked."""
    at = at or timezone.now()
    follow = (
        WecomFollow.objects.filter(staff__userid=userid, contact__external_userid=external_userid,
                                   deleted_at__isnull=True)
        .values_list("pk", "added_at").first()
    )
    if follow is None or (follow[1] is not None and follow[1] > at):
        return 0
    return mark_follows_deleted(follow_ids=[follow[0]], by=by, at=at, actor=actor)


def start_full_sync(actor=None):
    """A full contact sync (the demo starts one): the run, new or the one already active."""
    from wecom.models import SyncKind
    from wecom.services import sync

    return sync.start_run(kind=SyncKind.CONTACTS, actor=actor or SystemActor("wecom:demo")).run
