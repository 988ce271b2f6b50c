"""Data-subject requests (PIPL arts. 45, 47): export everything held about one member, or erase it.

The export is the member centre's own sections plus every part other apps register in
`members.privacy_registry`; it shows what the member API shows the same actor (sensitive
attribute values only to those `sees_sensitive_attributes` lets read them) and is audited.

Erasure keeps an anonymous row (erased_at set; no name, phone, birthday, attributes) so counts,
orders and statistics stay consistent, and removes identities, tags, notes, consents and the
timeline, including those of duplicates merged into the member earlier. Every registered erasure
step runs in the same transaction, before the row is blanked, with the `ErasureSubject` (phones,
names, ids) it needs to find the member in its own tables and files; the audit entries about the
member lose their details and the cache entries about the member are dropped. One transaction per
member, idempotent (erasing an erased member changes nothing), audited by ids and counts only."""

from __future__ import annotations

import json

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members import privacy_registry as registry
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
from members.services.attributes import hidden_attribute_codes
from scrm import audit as audit_log
from scrm import events as scrm_events
from scrm import privacy as kernel_privacy
from scrm.errors import InvalidInput
from scrm.models import Event
from scrm.services import audit

ERASED = "member.erased"
EVENT_LOG_EXPORT_MAX = 1000  # the newest events of the member in its export; older ones are in the log
ERASE_REASON_MAX = 255  # kept in the erasure's event and audit entry, not in a column of its own


def _rows(queryset, *fields):
    return list(queryset.values(*fields))


def _without(values: dict | None, hidden: set[str]) -> dict:
    return {code: value for code, value in (values or {}).items() if code not in hidden}


def _member_section(member: Member) -> dict:
    return {
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
    }


def _merged_profiles(member: Member, hidden: set[str]) -> list[dict]:
    merged = _rows(
        MemberMerge.objects.filter(survivor=member).order_by("merged_at"),
        "merged_id",
        "reason",
        "snapshot",
        "merged_at",
    )
    for row in merged:
        if hidden and isinstance(row["snapshot"], dict) and "attributes" in row["snapshot"]:
            row["snapshot"] = {**row["snapshot"], "attributes": _without(row["snapshot"]["attributes"], hidden)}
    return merged


def _events(member: Member, hidden: set[str]) -> list[dict]:
    found = _rows(MemberEvent.objects.filter(member=member).order_by("created_at", "id"), "kind", "data", "created_at")
    for row in found:
        changes = row["data"].get("attributes") if isinstance(row["data"], dict) else None
        if hidden and isinstance(changes, dict):
            row["data"] = {**row["data"], "attributes": _without(changes, hidden)}
    return found


def member_centre_sections(member: Member, actor) -> dict:
    """The member centre's own sections of the export."""
    hidden = hidden_attribute_codes(actor)
    return {
        "member": _member_section(member),
        "attributes": _without(member.attributes, hidden),
        "identities": _rows(
            Identity.objects.filter(member=member).order_by("id"), "channel", "namespace", "external_id", "created_at"
        ),
        "tags": _rows(
            MemberTag.objects.filter(member=member).order_by("id"),
            "tag__group__name",
            "tag__name",
            "source",
            "added_at",
        ),
        "notes": _rows(
            ServiceNote.objects.filter(member=member).order_by("created_at"),
            "kind",
            "body",
            "pinned",
            "created_at",
            "store__code",
        ),
        "relations": _rows(
            StaffRelation.objects.filter(member=member).order_by("id"),
            "staff__username",
            "store__code",
            "add_way",
            "state",
            "remark",
            "description",
            "is_owner",
            "added_at",
            "staff_deleted_at",
            "member_deleted_at",
        ),
        "consents": _rows(
            Consent.objects.filter(member=member).order_by("purpose", "channel"),
            "purpose",
            "channel",
            "granted",
            "updated_at",
        ),
        "consent_records": _rows(
            ConsentRecord.objects.filter(member=member).order_by("recorded_at", "id"),
            "purpose",
            "channel",
            "granted",
            "source",
            "evidence",
            "recorded_at",
        ),
        "events": _events(member, hidden),
        "merged_profiles": _merged_profiles(member, hidden),
    }


def export_member_data(*, member: Member, actor, ip=None) -> dict:
    """Everything held about one member that `actor` may read, as JSON-able data: the member
    centre's sections and every registered part. Audited (which sections, never their content) and
    noted on the timeline."""
    member = Member.objects.select_related("home_store", "owner").get(pk=member.pk)
    data = {"exported_at": timezone.now(), **member_centre_sections(member, actor)}
    for section, build in registry.export_parts().items():
        data[section] = build(member, actor)
    hidden = sorted(hidden_attribute_codes(actor))
    audit.record(
        actor=actor,
        action="member.export",
        obj=member,
        store_id=member.home_store_id,
        ip=ip,
        detail={"sections": sorted(k for k in data if k != "exported_at"), "hidden_attributes": hidden},
    )
    events.record(member.pk, MemberEvent.Kind.EXPORTED, actor, {})
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


# --- erasure ---------------------------------------------------------------------------------------


def _text_values(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for item in value for v in _text_values(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _text_values(item)]
    return []


def erasure_subject(member_ids: list[int]) -> registry.ErasureSubject:
    """What identifies these members, read before anything is blanked: phones, names, every
    channel id, attribute values; merge snapshots add the duplicates' old phones and names."""
    rows = list(Member.objects.filter(pk__in=member_ids).values("name", "phone", "attributes"))
    snapshots = MemberMerge.objects.filter(merged_id__in=member_ids).values_list("snapshot", flat=True)
    phones = [r["phone"] for r in rows if r["phone"]] + [s.get("phone") for s in snapshots if s.get("phone")]
    names = [r["name"] for r in rows if r["name"]] + [s.get("name") for s in snapshots if s.get("name")]
    identities = list(
        Identity.objects.filter(member_id__in=member_ids)
        .order_by("id")
        .values_list("channel", "namespace", "external_id")
    )
    phones += [external for channel, _ns, external in identities if channel == "phone"]
    values = [v for r in rows for v in _text_values(r["attributes"])]
    return registry.ErasureSubject(
        member_ids=list(member_ids),
        phones=list(dict.fromkeys(phones)),
        names=list(dict.fromkeys(n.strip() for n in names if n.strip())),
        identities=list(dict.fromkeys(identities)),
        attribute_values=list(dict.fromkeys(v for v in values if v.strip())),
    )


def _erase_member_centre(subject: registry.ErasureSubject) -> dict:
    ids = subject.member_ids
    removed = {
        "identities": Identity.objects.filter(member_id__in=ids).delete()[0],
        "tags": MemberTag.objects.filter(member_id__in=ids).delete()[0],
        "notes": ServiceNote.objects.filter(member_id__in=ids).delete()[0],
        "consents": Consent.objects.filter(member_id__in=ids).delete()[0],
        "consent_records": ConsentRecord.objects.filter(member_id__in=ids).delete()[0],
        "events": MemberEvent.objects.filter(member_id__in=ids).delete()[0],
    }
    removed["relations"] = StaffRelation.objects.filter(member_id__in=ids).update(remark="", description="", state="")
    MemberMerge.objects.filter(survivor_id__in=ids).update(snapshot={})
    MemberMerge.objects.filter(merged_id__in=ids).update(snapshot={})
    # The admin's change history names the object (str(member) is the name) and may quote values.
    member_type = ContentType.objects.get_for_model(Member)
    history = LogEntry.objects.filter(content_type=member_type, object_id__in=[str(i) for i in ids])
    removed["admin_history"] = history.update(object_repr=registry.ERASED, change_message="[]")
    removed["idempotent_answers"] = kernel_privacy.scrub_idempotent_answers(subject.needles, registry.ERASED)
    return removed


def _erase_audit_log(subject: registry.ErasureSubject) -> int:
    """The entries about the member lose their details (the log is append-only otherwise); writers
    keep personal data out of every other entry (ids, not phones; no search words)."""
    return sum(audit_log.scrub_member(member_id) for member_id in subject.member_ids)


def _drop_cached(member_ids: list[int]) -> None:
    kernel_privacy.drop_cache_keys([registry.member_cache_key(i, "*") for i in member_ids])


def event_log_part(member: Member, actor) -> list[dict]:
    """The member's part of the event log (and that of duplicates merged into it), newest first and
    bounded: type, time and data (ids and what changed), as receivers of the events got them."""
    ids = [member.pk, *Member.objects.filter(merged_into=member).values_list("pk", flat=True)]
    rows = (Event.objects.filter(member_id__in=ids).order_by("-id")
            .values("id", "type", "occurred_at", "data")[:EVENT_LOG_EXPORT_MAX])
    return [{"id": r["id"], "type": r["type"], "at": r["occurred_at"], "data": r["data"]} for r in rows]


def erase_event_log(subject: registry.ErasureSubject) -> int:
    """Blank the personal fields event types name in the member's past events (ids and types stay)."""
    return sum(scrm_events.scrub_member(member_id) for member_id in subject.member_ids)


def _checked_reason(reason) -> str:
    if not isinstance(reason, str) or len(reason) > ERASE_REASON_MAX:
        raise InvalidInput(details={"reason": [_("At most %(max)d characters of text.") % {"max": ERASE_REASON_MAX}]})
    return reason


@transaction.atomic
def erase_member(*, member: Member, actor, reason: str = "", ip=None) -> Member:
    """Erase one member's personal data (and that of duplicates merged into it) in every app; see the
    module docstring. Erasing an erased member again changes nothing."""
    reason = _checked_reason(reason)
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.erased_at is not None:
        return member
    ids = [member.pk, *Member.objects.filter(merged_into=member).order_by("pk").values_list("pk", flat=True)]
    subject = erasure_subject(ids)
    reason = subject.scrub(reason)
    counts: dict[str, object] = {}
    # Other apps' steps first: they may still read the member centre's rows (identities) they need.
    for name, erase in registry.erasure_steps().items():
        counts[name] = erase(subject)
    counts["members"] = _erase_member_centre(subject)
    now = timezone.now()
    Member.objects.filter(pk__in=ids).update(
        name="", phone="", gender=Gender.UNKNOWN, birthday=None, attributes={}, erased_at=now, updated_at=now
    )
    counts["audit_log"] = _erase_audit_log(subject)
    # Ids only: the event says who is gone, so each receiver erases what it copied.
    scrm_events.emit(ERASED, member_id=member.pk, store_id=member.home_store_id, at=now, data={})
    events.record(member.pk, MemberEvent.Kind.ERASED, actor, {"reason": reason, "members": len(ids)})
    audit.record(
        actor=actor,
        action="member.erase",
        obj=member,
        store_id=member.home_store_id,
        ip=ip,
        detail={"members": ids, "removed": counts, "reason": reason},
    )
    _drop_cached(ids)
    transaction.on_commit(lambda: _drop_cached(ids))  # and again, in case a reader cached it meanwhile
    member.refresh_from_db()
    return member
