"""The WeCom connector's part of a member's data-subject export and erasure. The export lists the
member's WeCom contacts and follows. Erasure deletes them and keeps only a SHA-256 of each
external_userid (ErasedContact), so a later sync recognises the person and does not re-create
them; stored callback events about those ids are scrubbed by the callbacks' own step."""

from __future__ import annotations

from django.utils import timezone

from members.models import Channel
from members.privacy_registry import ErasureSubject
from wecom.models import CustomerGroupMember, ErasedContact, WecomContact, WecomFollow
from wecom.services.contacts import erased_digest


def export_wecom(member, actor) -> dict:
    contacts = list(
        WecomContact.objects.filter(member=member).order_by("id")
        .values("external_userid", "unionid", "kind", "first_synced_at", "synced_at", "deleted_at")
    )
    follows = list(
        WecomFollow.objects.filter(contact__member=member).order_by("id")
        .values("contact__external_userid", "staff__userid", "add_way", "state", "added_at", "deleted_at",
                "deleted_by")
    )
    groups = list(
        CustomerGroupMember.objects.filter(member=member).order_by("id")
        .values("group__chat_id", "group__name", "userid", "name", "joined_at", "join_scene", "invitor", "left_at")
    )
    return {"contacts": contacts, "follows": follows, "groups": groups}


def erase(subject: ErasureSubject) -> dict:
    """Inside the erasure's transaction: the contacts of the member (and of its merged duplicates),
    and every WeCom id among its identities, become digests; their rows go."""
    ids = set(
        WecomContact.objects.filter(member_id__in=subject.member_ids).values_list("external_userid", flat=True)
    )
    ids |= {external for channel, _ns, external in subject.identities if channel == Channel.WECOM}
    now = timezone.now()
    ErasedContact.objects.bulk_create(
        [ErasedContact(digest=erased_digest(e), erased_at=now) for e in sorted(ids)], ignore_conflicts=True
    )
    follows = WecomFollow.objects.filter(contact__external_userid__in=ids).delete()[0]
    group_rows = CustomerGroupMember.objects.filter(member_id__in=subject.member_ids).delete()[0]
    group_rows += CustomerGroupMember.objects.filter(userid__in=ids).delete()[0]
    contacts = WecomContact.objects.filter(external_userid__in=ids).delete()[1].get(WecomContact._meta.label, 0)
    events = 0
    try:
        from wecom.services import events as event_services
    except ImportError:
        event_services = None
    scrub = getattr(event_services, "scrub_events_for", None)
    if scrub is not None and ids:
        events = scrub(sorted(ids)) or 0
    return {"contacts": contacts, "follows": follows, "group_memberships": group_rows, "erased_ids": len(ids),
            "events": events if isinstance(events, int) else 0}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("wecom", export_wecom)
    privacy_registry.register_erasure_step("wecom", erase)
