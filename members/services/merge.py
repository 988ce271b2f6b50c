"""Merging duplicates: one person found twice (same phone, same WeChat unionid) becomes one member.

`merge_members` folds the duplicate into the survivor with set-based moves (UPDATE ... SET
member_id), keeping every identity, tag, note, relation, consent, event and whatever other apps
keep per member; the duplicate stays as a row with merged_into set (never listed, counted or
messaged), and MemberMerge keeps a snapshot of it.

How conflicts resolve:
- tags: a tag on both keeps its earliest added_at (and who added it then); in a single-choice group
  the survivor's tag wins;
- relations: one per staff member, the survivor's row wins; the survivor's owner wins; with no
  owner, the duplicate's owner is adopted if they work in the survivor's home store;
- consents: the stricter answer wins, whatever its time. A withdrawal on either profile beats a grant
  on the other (the person said no once and we cannot tell which profile they meant), and a
  withdrawal on 'all' withdraws the other profile's channel grants. A changed answer is recorded as
  a ConsentRecord with source "merge";
- profile: the survivor's values stay; its empty fields (phone, birthday, gender, home store,
  attributes it lacks) are filled from the duplicate.
Other apps' rows pointing at members move too; a row that would break one of its table's unique
constraints stays on the duplicate, unless the app registered a handler (`register_handler`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, models, transaction
from django.db.models import BooleanField, Count, Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import (
    Channel,
    Consent,
    ConsentChannel,
    ConsentRecord,
    Gender,
    Identity,
    Member,
    MemberEvent,
    MemberMerge,
    MemberTag,
    ServiceNote,
    StaffRelation,
)
from members.phones import mask_phone
from members.services import events
from scrm import actors
from scrm import events as scrm_events
from scrm.errors import InvalidInput, NotInScope
from scrm.scoping import access_for, scope

logger = logging.getLogger(__name__)

MERGED = "member.merged"
REASON_MAX = MemberMerge._meta.get_field("reason").max_length
SAME_PHONE, SAME_UNIONID = "same_phone", "same_unionid"

# (model, field name) -> handler(survivor_id, duplicate_id) -> rows moved, for other apps' tables
_handlers: dict[tuple[type[models.Model], str], Callable[[int, int], int]] = {}

# Moved explicitly below (or, for MemberMerge, history that stays as it was).
_HANDLED = {
    (Identity, "member"), (MemberTag, "member"), (ServiceNote, "member"), (StaffRelation, "member"),
    (Consent, "member"), (ConsentRecord, "member"), (MemberEvent, "member"), (MemberMerge, "survivor"),
    (MemberMerge, "merged"), (Member, "merged_into"),
}


def register_handler(model: type[models.Model], field_name: str, handler: Callable[[int, int], int]) -> None:
    """Let an app decide how its rows follow a merge (e.g. summing points instead of moving rows)."""
    _handlers[(model, field_name)] = handler


@dataclass(frozen=True)
class Candidate:
    rule: str
    key: str  # the shared value, masked where personal
    survivor_id: int
    duplicate_ids: tuple[int, ...]


def _snapshot(member: Member) -> dict:
    return {
        "name": member.name,
        "phone": member.phone,
        "gender": member.gender,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "home_store": member.home_store_id,
        "owner": member.owner_id,
        "source": member.source,
        "stage": member.stage,
        "attributes": member.attributes,
        "created_at": member.created_at.isoformat(),
        "identities": [str(i) for i in member.identities.all()],
        "tags": list(member.member_tags.values_list("tag_id", flat=True)),
        "consents": [
            {"purpose": c.purpose, "channel": c.channel, "granted": c.granted} for c in member.consents.all()
        ],
        "relations": list(member.relations.values_list("staff_id", flat=True)),
    }


def _merge_tags(survivor_id: int, duplicate_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO members_membertag AS mt (member_id, tag_id, source, added_by_id, added_by_label, added_at)
            SELECT %(s)s, d.tag_id, d.source, d.added_by_id, d.added_by_label, d.added_at
            FROM members_membertag d
            JOIN members_tag t ON t.id = d.tag_id
            JOIN members_taggroup g ON g.id = t.group_id
            WHERE d.member_id = %(d)s AND (g.multiple OR NOT EXISTS (
                SELECT 1 FROM members_membertag s JOIN members_tag st ON st.id = s.tag_id
                WHERE s.member_id = %(s)s AND st.group_id = t.group_id AND s.tag_id <> d.tag_id))
            ORDER BY d.tag_id
            ON CONFLICT (member_id, tag_id) DO UPDATE SET
                added_at = LEAST(mt.added_at, excluded.added_at),
                source = CASE WHEN excluded.added_at < mt.added_at THEN excluded.source ELSE mt.source END,
                added_by_id = CASE WHEN excluded.added_at < mt.added_at THEN excluded.added_by_id
                                   ELSE mt.added_by_id END,
                added_by_label = CASE WHEN excluded.added_at < mt.added_at THEN excluded.added_by_label
                                      ELSE mt.added_by_label END""",
            {"s": survivor_id, "d": duplicate_id},
        )
        moved = cursor.rowcount
        cursor.execute("DELETE FROM members_membertag WHERE member_id = %s", [duplicate_id])
    return moved


def _merge_relations(survivor: Member, duplicate: Member) -> tuple[int, int | None]:
    """Move relations; returns (moved, the owner the survivor adopts or None)."""
    survivor_staff = set(StaffRelation.objects.filter(member=survivor).values_list("staff_id", flat=True))
    survivor_owner = StaffRelation.objects.filter(member=survivor, is_owner=True).values_list("staff_id", flat=True)
    survivor_owner = survivor_owner.first()
    duplicate_owner = StaffRelation.objects.filter(member=duplicate, is_owner=True).select_related("staff").first()
    StaffRelation.objects.filter(member=duplicate, staff_id__in=survivor_staff).delete()
    StaffRelation.objects.filter(member=duplicate).update(is_owner=False)
    moved = StaffRelation.objects.filter(member=duplicate).update(member=survivor)
    adopted = None
    has_owner = survivor_owner is not None or survivor.owner_id is not None
    if not has_owner and duplicate_owner is not None and duplicate_owner.is_active:
        staff = duplicate_owner.staff
        if survivor.home_store_id is None or staff.store_id == survivor.home_store_id:
            StaffRelation.objects.filter(member=survivor, staff=staff).update(is_owner=True)
            adopted = staff.pk
    return moved, adopted


def _merge_consents(survivor: Member, duplicate: Member, actor, at) -> list[str]:
    """Combine consents, the stricter answer winning; returns 'purpose/channel' keys the survivor lost."""
    mine = {(c.purpose, c.channel): c for c in Consent.objects.filter(member=survivor)}
    theirs = {(c.purpose, c.channel): c for c in Consent.objects.filter(member=duplicate)}
    mine_all_no = {p for (p, ch), c in mine.items() if ch == ConsentChannel.ALL and not c.granted}
    theirs_all_no = {p for (p, ch), c in theirs.items() if ch == ConsentChannel.ALL and not c.granted}
    withdrawn: list[tuple[str, str]] = []
    for key, other in theirs.items():
        purpose, channel = key
        granted = other.granted and purpose not in mine_all_no
        current = mine.get(key)
        if current is None:
            Consent.objects.filter(pk=other.pk).update(member=survivor, granted=granted)
            if granted != other.granted:
                withdrawn.append(key)
        else:
            other.delete()
            if current.granted and not granted:
                Consent.objects.filter(pk=current.pk).update(granted=False, updated_at=at)
                withdrawn.append(key)
    for (purpose, channel), current in mine.items():
        if purpose in theirs_all_no and channel != ConsentChannel.ALL and current.granted:
            Consent.objects.filter(pk=current.pk).update(granted=False, updated_at=at)
            withdrawn.append((purpose, channel))
    ConsentRecord.objects.filter(member=duplicate).update(member=survivor)
    user, label = actors.actor_user(actor), actors.actor_label(actor)
    ConsentRecord.objects.bulk_create(
        ConsentRecord(member=survivor, purpose=p, channel=ch, granted=False, source="merge",
                      evidence=f"withdrawn on merged member {duplicate.pk}", recorded_by=user,
                      recorded_by_label=label, recorded_at=at)
        for p, ch in withdrawn
    )
    return [f"{p}/{ch}" for p, ch in withdrawn]


def _unique_sets(model: type[models.Model], field: models.Field) -> list[list[str]]:
    """The other fields of each unique constraint of `model` that includes `field`."""
    sets = []
    if field.unique:
        sets.append([])
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append([f for f in together if f != field.name])
    for constraint in model._meta.constraints:
        fields = getattr(constraint, "fields", ())
        if isinstance(constraint, models.UniqueConstraint) and field.name in fields:
            sets.append([f for f in fields if f != field.name])
    return sets


def _move_other_rows(survivor_id: int, duplicate_id: int) -> dict[str, int]:
    moved = {}
    for rel in Member._meta.get_fields(include_hidden=True):
        if not (rel.is_relation and rel.auto_created and not rel.concrete) or rel.many_to_many:
            continue
        model, field = rel.related_model, rel.field
        key = (model, field.name)
        if key in _HANDLED or not model._meta.managed or model._meta.proxy:
            continue
        label = f"{model._meta.label_lower}.{field.name}"
        if key in _handlers:
            moved[label] = _handlers[key](survivor_id, duplicate_id)
            continue
        rows = model._base_manager.filter(**{field.attname: duplicate_id})
        for others in _unique_sets(model, field):
            taken = model._base_manager.filter(**{field.attname: survivor_id}, **{f: OuterRef(f) for f in others})
            rows = rows.exclude(Exists(taken))
        count = rows.update(**{field.attname: survivor_id})
        if count:
            moved[label] = count
    return moved


def _fill_gaps(survivor: Member, duplicate: Member) -> list[str]:
    filled = []
    for name in ("name", "phone", "birthday", "home_store_id", "source"):
        if not getattr(survivor, name) and getattr(duplicate, name):
            setattr(survivor, name, getattr(duplicate, name))
            filled.append(name.removesuffix("_id"))
    if survivor.gender == Gender.UNKNOWN and duplicate.gender != Gender.UNKNOWN:
        survivor.gender = duplicate.gender
        filled.append("gender")
    missing = {k: v for k, v in (duplicate.attributes or {}).items() if k not in (survivor.attributes or {})}
    if missing:
        survivor.attributes = {**(survivor.attributes or {}), **missing}
        filled.append("attributes")
    return filled


@transaction.atomic
def merge_members(*, survivor: Member, duplicate: Member, actor, reason: str = "manual") -> MemberMerge:
    """Fold `duplicate` into `survivor` (see the module docstring). Both must be live and within
    the actor's reach."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX:
        raise InvalidInput(details={"reason": [_("1 to %(max)d characters.") % {"max": REASON_MAX}]})
    if survivor.pk == duplicate.pk:
        raise InvalidInput(details={"duplicate": [_("A member cannot be merged into itself.")]})
    locked = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
              .order_by("pk")}
    visible = set(scope(Member.objects.filter(pk__in=list(locked)), actor).values_list("pk", flat=True))
    missing = [pk for pk in (survivor.pk, duplicate.pk) if pk not in visible]
    if missing:
        raise NotInScope(details={"members": missing})
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    for name, member in (("survivor", survivor), ("duplicate", duplicate)):
        if member.merged_into_id:
            raise InvalidInput(details={name: [_("Member %(id)s was already merged into %(into)s.")
                                               % {"id": member.pk, "into": member.merged_into_id}]})
        if member.erased_at:
            raise InvalidInput(details={name: [_("Member %(id)s was erased.") % {"id": member.pk}]})
    now = timezone.now()
    snapshot = _snapshot(duplicate)
    moved = {"identities": Identity.objects.filter(member=duplicate).update(member=survivor)}
    moved["tags"] = _merge_tags(survivor.pk, duplicate.pk)
    moved["notes"] = ServiceNote.objects.filter(member=duplicate).update(member=survivor)
    moved["relations"], adopted_owner = _merge_relations(survivor, duplicate)
    withdrawn = _merge_consents(survivor, duplicate, actor, now)
    moved["events"] = MemberEvent.objects.filter(member=duplicate).update(member=survivor)
    moved["earlier_duplicates"] = Member.objects.filter(merged_into=duplicate).update(merged_into=survivor)
    moved.update(_move_other_rows(survivor.pk, duplicate.pk))
    filled = _fill_gaps(survivor, duplicate)
    if adopted_owner is not None:
        survivor.owner_id = adopted_owner
        filled.append("owner")
    survivor.updated_at = now
    survivor.save()
    Member.objects.filter(pk=duplicate.pk).update(merged_into=survivor, updated_at=now)
    merge = MemberMerge.objects.create(
        survivor=survivor, merged=duplicate, reason=reason.strip(), snapshot=snapshot,
        merged_by=actors.actor_user(actor), merged_at=now,
    )
    events.record(survivor.pk, MemberEvent.Kind.MERGED, actor, {
        "duplicate": duplicate.pk, "reason": merge.reason, "moved": {k: v for k, v in moved.items() if v},
        "filled": filled, "consents_withdrawn": withdrawn,
    })
    # The event log is history: the duplicate's past events keep its id (a receiver learns here
    # which member it became). What moved (tags, identities, consents) is not told again one by one:
    # member.merged says the survivor now holds it all.
    scrm_events.emit(MERGED, member_id=survivor.pk, store_id=survivor.home_store_id, at=now, data={
        "into": {"id": survivor.pk}, "from": {"id": duplicate.pk}, "reason": merge.reason,
    })
    return merge


# --- finding duplicates --------------------------------------------------------------------------


# Phones held by more than one member row, read from the member_phone index alone (an index-only
# scan grouped in index order: no heap fetch, no hash of every phone). A superset (merged or erased
# rows count here); the rows holding these few phones are then fetched by index probes and checked.
_SHARED_PHONES = (
    '"members_member"."phone" = ANY(ARRAY(SELECT phone FROM members_member WHERE phone > \'\' '
    "GROUP BY phone HAVING count(*) > 1 ORDER BY phone))"
)


def duplicate_candidates(*, actor, rule: str | None = None, limit: int = 100,
                         phones: list[str] | None = None) -> list[Candidate]:
    """Groups of live members (all within the actor's reach) sharing a phone or a WeChat unionid;
    the oldest member of a group is proposed as the survivor. `phones` (E.164) limits the same-phone
    rule to those numbers, e.g. the phones an import or an edit just touched."""
    found: list[Candidate] = []
    live = scope(Member.live.all(), actor)
    if rule in (None, SAME_UNIONID):
        groups = (
            Identity.objects.filter(channel=Channel.WECHAT_UNIONID, member__in=live)
            .values("external_id")
            .annotate(ids=ArrayAgg("member_id", distinct=True, order_by="member_id"),
                      n=Count("member_id", distinct=True))
            .filter(n__gt=1)
            .order_by("external_id")[:limit]
        )
        found += [Candidate(SAME_UNIONID, g["external_id"], g["ids"][0], tuple(g["ids"][1:])) for g in groups]
    if rule in (None, SAME_PHONE):
        if phones is not None:
            shared = live.filter(phone__in=[p for p in phones if p])  # one index probe per phone
        elif access_for(actor).all_stores:
            shared = live.filter(RawSQL(_SHARED_PHONES, [], output_field=BooleanField()))  # noqa: S611 - constant
        else:
            shared = live.exclude(phone="")  # one store's members, read through the home store index
        groups = (
            shared.order_by().values("phone")
            .annotate(ids=ArrayAgg("id", order_by="id"), n=Count("id"))
            .filter(n__gt=1)
            .order_by("phone")[:limit]
        )
        found += [Candidate(SAME_PHONE, mask_phone(g["phone"]), g["ids"][0], tuple(g["ids"][1:])) for g in groups]
    return found


def merge_by_unionid(*, limit: int = 500) -> int:
    """The automatic rule: members sharing a WeChat unionid are one person; the oldest survives.
    Each merge runs in its own transaction; a pair merged meanwhile by someone else is skipped.
    Returns how many duplicates were merged."""
    actor = actors.SystemActor("rule:same_unionid")
    merged = 0
    for candidate in duplicate_candidates(actor=actor, rule=SAME_UNIONID, limit=limit):
        for duplicate_id in candidate.duplicate_ids:
            try:
                merge_members(
                    survivor=Member(pk=candidate.survivor_id), duplicate=Member(pk=duplicate_id),
                    actor=actor, reason=SAME_UNIONID,
                )
            except InvalidInput as exc:  # already merged or erased since the candidates were read
                logger.info("skipped merging %s into %s: %s", duplicate_id, candidate.survivor_id, exc.details)
                continue
            merged += 1
    return merged
