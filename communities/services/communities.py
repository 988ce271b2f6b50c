"""Communities and their members: create and edit a community (its owner and assistants are staff
of its store), members join (within the community's capacity) and leave."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import (
    Community,
    CommunityKind,
    CommunityMembership,
    CommunityStatus,
    MembershipRole,
    MembershipSource,
)
from communities.services import access, wecom_groups
from members.models import Member
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import Role, Store, User
from scrm.scoping import scope

EDITABLE = ("name", "kind", "description", "status", "capacity", "owner", "assistants", "wecom_chat_id")


@dataclass
class CommunityInput:
    store: Store
    name: str
    owner: User
    kind: str = CommunityKind.OTHER
    description: str = ""
    capacity: int | None = None
    assistants: list[User] = field(default_factory=list)
    wecom_chat_id: str = ""


def _check_staff(store_id: int, owner: User | None, assistants) -> dict:
    errors = {}
    store_roles = (Role.STORE_MANAGER, Role.STORE_STAFF)
    if owner is not None and (owner.store_id != store_id or owner.role not in store_roles or not owner.is_active):
        errors["owner"] = [_("The owner must be an active staff member of the community's store.")]
    wrong = [u.pk for u in assistants or () if u.store_id != store_id or u.role not in store_roles]
    if wrong:
        errors["assistants"] = [_("Not staff of the community's store: %(ids)s.") % {
            "ids": ", ".join(str(i) for i in wrong)}]
    return errors


def _check_mirrored_capacity(capacity, chat_id) -> dict:
    if chat_id and isinstance(capacity, int) and capacity > wecom_groups.GROUP_LIMIT:
        return {"capacity": [_("A community mirroring a WeCom customer group holds at most %(limit)d members "
                               "(the group's limit); %(capacity)d is more.")
                             % {"limit": wecom_groups.GROUP_LIMIT, "capacity": capacity}]}
    return {}


def _check_fields(values: dict) -> dict:
    errors = {}
    if "name" in values and not (values["name"] or "").strip():
        errors["name"] = [_("A community needs a name.")]
    if "kind" in values and values["kind"] not in CommunityKind.values:
        errors["kind"] = [_("Unknown kind “%(kind)s”.") % {"kind": values["kind"]}]
    if "status" in values and values["status"] not in CommunityStatus.values:
        errors["status"] = [_("Unknown status “%(status)s”.") % {"status": values["status"]}]
    capacity = values.get("capacity")
    if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
        errors["capacity"] = [_("The capacity is a whole number of at least 1, or empty for no limit.")]
    return errors


@transaction.atomic
def create_community(*, actor, data: CommunityInput) -> Community:
    if not access.can_create_community(actor, data.store.pk):
        raise Forbidden(_("Only operators and the store's manager may start a community in %(store)s.")
                        % {"store": data.store.name}, details={"store": [data.store.code]})
    errors = _check_fields({"name": data.name, "kind": data.kind, "capacity": data.capacity})
    errors.update(_check_staff(data.store.pk, data.owner, data.assistants))
    if Community.objects.filter(store=data.store, name=data.name.strip()).exists():
        errors["name"] = [_("The store already has a community with this name.")]
    errors.update(_check_chat(data.wecom_chat_id, None))
    if "capacity" not in errors:
        errors.update(_check_mirrored_capacity(data.capacity, (data.wecom_chat_id or "").strip()))
    if errors:
        raise InvalidInput(details=errors)
    community = Community.objects.create(
        store=data.store, name=data.name.strip(), kind=data.kind, description=data.description,
        capacity=data.capacity, owner=data.owner, wecom_chat_id=data.wecom_chat_id,
    )
    community.assistants.set(data.assistants)
    if community.wecom_chat_id:
        wecom_groups.mirror(community_ids=[community.pk])
    return community


@transaction.atomic
def update_community(*, community: Community, actor, **values) -> Community:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"update_community() got unknown fields {sorted(unknown)}")
    community = Community.objects.select_for_update().get(pk=community.pk)
    access.require_manage_community(actor, community)
    errors = _check_fields(values)
    errors.update(_check_staff(community.store_id, values.get("owner"), values.get("assistants")))
    if "name" in values and Community.objects.filter(store_id=community.store_id, name=values["name"].strip()) \
            .exclude(pk=community.pk).exists():
        errors["name"] = [_("The store already has a community with this name.")]
    if "wecom_chat_id" in values:
        errors.update(_check_chat(values["wecom_chat_id"], community.pk))
    capacity = values.get("capacity", community.capacity)
    chat_id = (values.get("wecom_chat_id", community.wecom_chat_id) or "").strip()
    if not errors.get("capacity"):
        errors.update(_check_mirrored_capacity(capacity, chat_id))
    if capacity is not None and not errors.get("capacity") and ("capacity" in values or "wecom_chat_id" in values):
        current = wecom_groups.occupied(community, chat_id=chat_id)
        if capacity < current:
            errors["capacity"] = [_("The community has %(count)d members; the capacity cannot be lower.")
                                  % {"count": current}]
    if errors:
        raise InvalidInput(details=errors)
    assistants = values.pop("assistants", None)
    for name, value in values.items():
        setattr(community, name, value.strip() if name == "name" else value)
    community.save()
    if assistants is not None:
        community.assistants.set(assistants)
    if community.wecom_chat_id and "wecom_chat_id" in values:
        wecom_groups.mirror(community_ids=[community.pk])
    return community


def _check_chat(chat_id: str, community_id: int | None) -> dict:
    """A WeCom customer group is mirrored by one community at most."""
    chat_id = (chat_id or "").strip()
    if chat_id and Community.objects.filter(wecom_chat_id=chat_id).exclude(pk=community_id).exists():
        return {"wecom_chat_id": [_("Another community already mirrors this WeCom group.")]}
    return {}


def _member_for(actor, member_id) -> Member:
    member = scope(Member.live.filter(pk=member_id), actor).first()
    if member is None:
        raise NotInScope(_("No such member, or not yours to reach."), details={"member": [member_id]})
    return member


@transaction.atomic
def join(*, community: Community, member_id: int, actor, role: str = MembershipRole.MEMBER,
         source: str = MembershipSource.STORE) -> tuple[CommunityMembership, bool]:
    """Add a member (one the actor reaches) to a community; (membership, created). Joining twice
    answers the open membership. A full or archived community refuses."""
    community = Community.objects.select_for_update().get(pk=community.pk)  # serialises joins against capacity
    access.require_manage_community(actor, community)
    errors = {}
    if role not in MembershipRole.values:
        errors["role"] = [_("Unknown role “%(role)s”.") % {"role": role}]
    if source not in MembershipSource.values:
        errors["source"] = [_("Unknown source “%(source)s”.") % {"source": source}]
    if errors:
        raise InvalidInput(details=errors)
    member = _member_for(actor, member_id)
    found = community.memberships.filter(member=member, left_at__isnull=True).first()
    if found is not None:
        return found, False
    if community.status != CommunityStatus.ACTIVE:
        raise Conflict(_("“%(name)s” is %(status)s: it takes no new members.")
                       % {"name": community.name, "status": community.get_status_display()}, code="community_closed")
    if community.capacity is not None and wecom_groups.occupied(community) >= community.capacity:
        raise Conflict(_("“%(name)s” is full (%(capacity)d members).")
                       % {"name": community.name, "capacity": community.capacity}, code="community_full")
    try:
        with transaction.atomic():
            return CommunityMembership.objects.create(community=community, member=member, role=role,
                                                      source=source), True
    except IntegrityError:
        return community.memberships.get(member=member, left_at__isnull=True), False


@transaction.atomic
def leave(*, membership: CommunityMembership, actor) -> CommunityMembership:
    access.require_manage_community(actor, membership.community)
    CommunityMembership.objects.filter(pk=membership.pk, left_at__isnull=True).update(left_at=timezone.now())
    membership.refresh_from_db()
    return membership
