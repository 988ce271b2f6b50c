"""Data-subject requests: export everything held about one member, or erase it.

Erasure keeps an anonymous row (erased_at set; no name, phone, birthday, attributes) so counts,
orders and statistics stay consistent, and removes identities, tags, notes, consents and the
timeline, including those of duplicates merged into the member earlier. Both are audited. Other
apps add their own sections and erasure steps with `register_export` and `register_erasure`."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import (
    Consent,
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
from members.services import events
from scrm.errors import InvalidInput
from scrm.services import audit

ERASE_REASON_MAX = 255  # kept in the erasure's event and audit entry, not in a column of its own
_exports: dict[str, Callable[[Member], object]] = {}
_erasures: list[Callable[[list[int]], None]] = []


def register_export(section: str, build: Callable[[Member], object]) -> None:
    """Add a section (e.g. "orders") to every export: build(member) returns JSON-able data."""
    _exports[section] = build


def register_erasure(erase: Callable[[list[int]], None]) -> None:
    """Run erase(member_ids) inside every erasure, to blank an app's personal fields."""
    _erasures.append(erase)


def _rows(queryset, *fields):
    return list(queryset.values(*fields))


def export_member_data(*, member: Member, actor, ip=None) -> dict:
    """Everything held about one member, as JSON-able data. Audited, and noted on the timeline."""
    member = Member.objects.select_related("home_store", "owner").get(pk=member.pk)
    data = {
        "exported_at": timezone.now(),
        "member": {
            "id": member.pk,
            "name": member.name,
            "phone": member.phone,
            "gender": member.gender,
            "birthday": member.birthday,
            "home_store": member.home_store.code if member.home_store else None,
            "owner": member.owner.get_username() if member.owner else None,
            "source": member.source,
            "stage": member.stage,
            "created_at": member.created_at,
            "updated_at": member.updated_at,
            "erased_at": member.erased_at,
        },
        "attributes": member.attributes,
        "identities": _rows(Identity.objects.filter(member=member).order_by("id"),
                            "channel", "namespace", "external_id", "created_at"),
        "tags": _rows(MemberTag.objects.filter(member=member).order_by("id"),
                      "tag__group__name", "tag__name", "source", "added_at"),
        "notes": _rows(ServiceNote.objects.filter(member=member).order_by("created_at"),
                       "kind", "body", "pinned", "created_at", "store__code"),
        "relations": _rows(StaffRelation.objects.filter(member=member).order_by("id"),
                           "staff__username", "store__code", "add_way", "state", "remark", "description",
                           "is_owner", "added_at", "staff_deleted_at", "member_deleted_at"),
        "consents": _rows(Consent.objects.filter(member=member).order_by("purpose", "channel"),
                          "purpose", "channel", "granted", "updated_at"),
        "consent_records": _rows(ConsentRecord.objects.filter(member=member).order_by("recorded_at", "id"),
                                 "purpose", "channel", "granted", "source", "evidence", "recorded_at"),
        "events": _rows(MemberEvent.objects.filter(member=member).order_by("created_at", "id"),
                        "kind", "data", "created_at"),
        "merged_profiles": _rows(MemberMerge.objects.filter(survivor=member).order_by("merged_at"),
                                 "merged_id", "reason", "snapshot", "merged_at"),
    }
    for section, build in _exports.items():
        data[section] = build(member)
    audit.record(actor=actor, action="member.export", obj=member, store_id=member.home_store_id, ip=ip)
    events.record(member.pk, MemberEvent.Kind.EXPORTED, actor, {})
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@transaction.atomic
def erase_member(*, member: Member, actor, reason: str = "", ip=None) -> Member:
    """Erase one member's personal data (and that of duplicates merged into it); see the module
    docstring. Erasing an erased member again changes nothing."""
    if not isinstance(reason, str) or len(reason) > ERASE_REASON_MAX:
        raise InvalidInput(details={"reason": [_("At most %(max)d characters of text.") % {"max": ERASE_REASON_MAX}]})
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.erased_at is not None:
        return member
    ids = [member.pk, *Member.objects.filter(merged_into=member).order_by("pk").values_list("pk", flat=True)]
    now = timezone.now()
    removed = {
        "identities": Identity.objects.filter(member_id__in=ids).delete()[0],
        "tags": MemberTag.objects.filter(member_id__in=ids).delete()[0],
        "notes": ServiceNote.objects.filter(member_id__in=ids).delete()[0],
        "consents": Consent.objects.filter(member_id__in=ids).delete()[0],
        "consent_records": ConsentRecord.objects.filter(member_id__in=ids).delete()[0],
        "events": MemberEvent.objects.filter(member_id__in=ids).delete()[0],
    }
    StaffRelation.objects.filter(member_id__in=ids).update(remark="", description="", state="")
    MemberMerge.objects.filter(survivor_id__in=ids).update(snapshot={})
    MemberMerge.objects.filter(merged_id__in=ids).update(snapshot={})
    for erase in _erasures:
        erase(ids)
    Member.objects.filter(pk__in=ids).update(
        name="", phone="", gender=Gender.UNKNOWN, birthday=None, attributes={}, erased_at=now, updated_at=now
    )
    events.record(member.pk, MemberEvent.Kind.ERASED, actor, {"reason": reason, "members": len(ids)})
    audit.record(actor=actor, action="member.erase", obj=member, store_id=member.home_store_id, ip=ip,
                 detail={"members": ids, "removed": removed, "reason": reason})
    member.refresh_from_db()
    return member
