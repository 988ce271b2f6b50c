"""Staff relations: staff following members, as WeCom contacts do. A member may follow several
staff; one relation is the owner (the shopping guide the member belongs to) and Member.owner mirrors
it. Deleting, by either side, is recorded (churn) rather than erased."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import AddWay, Member, MemberEvent, StaffRelation
from members.services import events
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, User
from scrm.scoping import access_for, scope
from scrm.sql import array

UNSET = object()
REMARK_MAX, DESCRIPTION_MAX, STATE_MAX = (StaffRelation._meta.get_field(name).max_length
                                          for name in ("remark", "description", "state"))


def _check_staff(staff: User, actor, *, field: str = "staff") -> None:
    if staff is None or not staff.is_active or staff.role not in STORE_ROLES:
        raise InvalidInput(details={field: [_("Relations are with active store staff or store managers.")]})
    if not access_for(actor).allows_store(staff.store_id):
        raise InvalidInput(details={field: [_("Unknown staff %(value)s.") % {"value": staff.pk}]})


def _check_text(fields: dict) -> None:
    errors = {}
    for name, limit in (("remark", REMARK_MAX), ("description", DESCRIPTION_MAX), ("state", STATE_MAX)):
        value = fields.get(name, "")
        if value is UNSET:
            continue
        if not isinstance(value, str):
            errors[name] = [_("Expected text.")]
        elif len(value) > limit:
            errors[name] = [_("At most %(max)d characters.") % {"max": limit}]
    if errors:
        raise InvalidInput(details=errors)


def _describe(relation: StaffRelation, action: str, **extra) -> dict:
    return {"action": action, "staff": relation.staff.get_username(), "relation": relation.pk, **extra}


@transaction.atomic
def add_relation(
    *,
    member: Member,
    staff: User,
    actor,
    add_way: str = AddWay.OTHER,
    state: str = "",
    referrer: Member | None = None,
    remark: str = "",
    description: str = "",
    added_at=None,
    is_owner: bool = False,
) -> StaffRelation:
    """A staff member added the member (or the member added them). Adding again after either side
    deleted the other starts the relation afresh; adding an active one updates what was given."""
    _check_staff(staff, actor)
    _check_text({"remark": remark, "description": description, "state": state})
    if add_way not in AddWay.values:
        raise InvalidInput(details={"add_way": [_("%(value)s is not one of: %(choices)s.")
                                                % {"value": add_way, "choices": ", ".join(AddWay.values)}]})
    if referrer is not None and (
        referrer.pk == member.pk or not scope(Member.live.filter(pk=referrer.pk), actor).exists()
    ):
        raise InvalidInput(details={"referrer": [_("Unknown member %(value)s.") % {"value": referrer.pk}]})
    Member.objects.select_for_update().filter(pk=member.pk).first()
    added_at = added_at or timezone.now()
    relation = StaffRelation.objects.filter(member=member, staff=staff).first()
    action = "added"
    if relation is None:
        relation = StaffRelation(member=member, staff=staff)
    elif relation.is_active:
        action = "updated"
    else:
        action = "re_added"
        relation.staff_deleted_at = relation.member_deleted_at = None
    if action != "updated":
        relation.added_at = added_at
        relation.add_way = add_way
        relation.state = state
        relation.referrer = referrer
        relation.store_id = staff.store_id
    if remark or action != "updated":
        relation.remark = remark
    if description or action != "updated":
        relation.description = description
    relation.save()
    events.record(member.pk, MemberEvent.Kind.RELATION, actor,
                  _describe(relation, action, add_way=relation.add_way, state=relation.state))
    if is_owner:
        set_owner(member=member, staff=staff, actor=actor)
        relation.refresh_from_db()
    return relation


@transaction.atomic
def update_relation(*, relation: StaffRelation, actor, remark=UNSET, description=UNSET) -> StaffRelation:
    """Change the staff's remark or description of the member."""
    _check_text({"remark": remark, "description": description})
    changes = {}
    if remark is not UNSET and remark != relation.remark:
        changes["remark"] = [relation.remark, remark]
        relation.remark = remark
    if description is not UNSET and description != relation.description:
        changes["description"] = [relation.description, description]
        relation.description = description
    if changes:
        relation.save(update_fields=["remark", "description"])
        events.record(relation.member_id, MemberEvent.Kind.RELATION, actor,
                      _describe(relation, "updated", changes=changes))
    return relation


@transaction.atomic
def mark_deleted(*, relation: StaffRelation, by: str, actor, at=None) -> StaffRelation:
    """Record that the staff deleted the member (by="staff") or the member deleted the staff
    (by="member"). An owner relation stops being the owner: the member has no guide until one is set."""
    if by not in ("staff", "member"):
        raise InvalidInput(details={"by": [_("Either staff or member.")]})
    at = at or timezone.now()
    Member.objects.select_for_update().filter(pk=relation.member_id).first()
    relation = StaffRelation.objects.select_for_update().select_related("staff").get(pk=relation.pk)
    field = "staff_deleted_at" if by == "staff" else "member_deleted_at"
    if getattr(relation, field) is not None:
        return relation
    setattr(relation, field, at)
    was_owner = relation.is_owner
    relation.is_owner = False
    relation.save(update_fields=[field, "is_owner"])
    if was_owner:
        Member.objects.filter(pk=relation.member_id, owner_id=relation.staff_id).update(owner=None)
    events.record(relation.member_id, MemberEvent.Kind.RELATION, actor,
                  _describe(relation, f"deleted_by_{by}", was_owner=was_owner))
    return relation


@transaction.atomic
def set_owner(*, member: Member, staff: User | None, actor) -> Member:
    """Make `staff` the member's owner (creating a relation if there is none), or clear the owner with
    None. The owner works in the member's home store; Member.owner follows."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if staff is not None:
        _check_staff(staff, actor)
        if member.home_store_id is not None and staff.store_id != member.home_store_id:
            raise InvalidInput(details={"staff": [
                _("%(owner)s works in another store than the member's home store.") % {"owner": staff.get_username()}
            ]})
    old_owner = member.owner
    sync_owners([(member.pk, staff.pk if staff else None, staff.store_id if staff else None)])
    member.owner = staff
    member.save(update_fields=["owner", "updated_at"])
    if (old_owner.pk if old_owner else None) != (staff.pk if staff else None):
        events.record(member.pk, MemberEvent.Kind.RELATION, actor, {
            "action": "owner",
            "owner": [old_owner.get_username() if old_owner else None, staff.get_username() if staff else None],
        })
    return member


def sync_owners(rows) -> None:
    """Set-based: for (member_id, staff_id or None, store_id) rows, make that staff's relation the
    owner one (created if missing) and clear every other owner flag of those members. The caller
    updates Member.owner in the same transaction."""
    rows = list(rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE members_staffrelation r SET is_owner = false
            FROM unnest(%s::bigint[], %s::bigint[]) AS v(member_id, staff_id)
            WHERE r.member_id = v.member_id AND r.is_owner AND r.staff_id IS DISTINCT FROM v.staff_id""",
            [[r[0] for r in rows], [r[1] for r in rows]],
        )
        owned = sorted((r for r in rows if r[1] is not None), key=lambda r: (r[0], r[1]))
        if owned:
            cursor.execute(
                """INSERT INTO members_staffrelation (member_id, staff_id, store_id, add_way, state, remark,
                    description, is_owner, added_at)
                SELECT v.member_id, v.staff_id, v.store_id, %s, '', '', '', true, now()
                FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(member_id, staff_id, store_id)
                ON CONFLICT (member_id, staff_id) DO UPDATE SET is_owner = true""",
                [AddWay.OTHER, [r[0] for r in owned], [r[1] for r in owned], [r[2] for r in owned]],
            )


# --- set-based, for connectors that keep relations in step with another system (WeCom) ----------


def bulk_upsert_relations(rows, *, actor) -> dict[tuple[int, int], int]:
    """Set-based add_relation for rows already checked by the caller (staff are store staff, texts
    within the field limits): dicts of member_id, staff_id, store_id, add_way, state, remark,
    description, added_at. A new relation is inserted; an existing one takes the values given and
    is active again (a re-add after either side deleted the other). One INSERT and one timeline
    INSERT; returns {(member_id, staff_id): relation id}."""
    rows = sorted(rows, key=lambda r: (r["member_id"], r["staff_id"]))
    if not rows:
        return {}
    columns = ("member_id", "staff_id", "store_id", "add_way", "state", "remark", "description", "added_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {StaffRelation._meta.db_table} AS r
                (member_id, staff_id, store_id, add_way, state, remark, description, added_at, is_owner)
            SELECT v.member_id, v.staff_id, v.store_id, v.add_way, v.state, v.remark, v.description, v.added_at, false
            FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                        %s::timestamptz[]) AS v({", ".join(columns)})
            ON CONFLICT (member_id, staff_id) DO UPDATE SET
                store_id = EXCLUDED.store_id, add_way = EXCLUDED.add_way, state = EXCLUDED.state,
                remark = EXCLUDED.remark, description = EXCLUDED.description, added_at = EXCLUDED.added_at,
                staff_deleted_at = NULL, member_deleted_at = NULL
            RETURNING r.id, r.member_id, r.staff_id, (xmax = 0) AS inserted""",
            [array(r[c] for r in rows) for c in columns],
        )
        found = cursor.fetchall()
    staff_names = dict(User.objects.filter(pk__in={r["staff_id"] for r in rows}).values_list("pk", "username"))
    by_key = {(r["member_id"], r["staff_id"]): r for r in rows}
    now = timezone.now()
    events.record_many(
        events.event(member_id, MemberEvent.Kind.RELATION, actor, {
            "action": "added" if inserted else "updated", "staff": staff_names.get(staff_id), "relation": pk,
            "add_way": by_key[(member_id, staff_id)]["add_way"], "state": by_key[(member_id, staff_id)]["state"],
        }, at=now)
        for pk, member_id, staff_id, inserted in found
    )
    return {(member_id, staff_id): pk for pk, member_id, staff_id, _inserted in found}


def bulk_mark_deleted(rows, *, actor) -> int:
    """Set-based mark_deleted: (relation_id, by, at) rows, by = "staff" or "member". A relation
    already marked on that side is left as it is; an owner relation stops being the owner and the
    member's owner is cleared. Returns the number of relations marked."""
    rows = [r for r in rows if r[0] is not None]
    if any(by not in ("staff", "member") for _pk, by, _at in rows):
        raise InvalidInput(details={"by": [_("Either staff or member.")]})
    marked = []
    with connection.cursor() as cursor:
        for by in ("staff", "member"):
            chosen = sorted((pk, at) for pk, b, at in rows if b == by)
            if not chosen:
                continue
            column = "staff_deleted_at" if by == "staff" else "member_deleted_at"
            cursor.execute(
                f"""UPDATE {StaffRelation._meta.db_table} r SET {column} = v.at, is_owner = false
                FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at),
                     LATERAL (SELECT is_owner AS was_owner FROM {StaffRelation._meta.db_table} o WHERE o.id = v.id) o
                WHERE r.id = v.id AND r.{column} IS NULL
                RETURNING r.id, r.member_id, r.staff_id, o.was_owner""",
                [[pk for pk, _at in chosen], [at for _pk, at in chosen]],
            )
            marked += [(by, *row) for row in cursor.fetchall()]
    owners = [(member_id, staff_id) for _by, _pk, member_id, staff_id, was_owner in marked if was_owner]
    for member_id, staff_id in owners:
        Member.objects.filter(pk=member_id, owner_id=staff_id).update(owner=None)
    staff_names = dict(User.objects.filter(pk__in={row[3] for row in marked}).values_list("pk", "username"))
    events.record_many(
        events.event(member_id, MemberEvent.Kind.RELATION, actor, {
            "action": f"deleted_by_{by}", "staff": staff_names.get(staff_id), "relation": pk, "was_owner": was_owner,
        })
        for by, pk, member_id, staff_id, was_owner in marked
    )
    return len(marked)
