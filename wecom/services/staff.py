"""The corp's staff with customer contact enabled (get_follow_user_list) as WecomStaff rows, each
linked to the Siyu account with the same username (or by hand, by an operator) and working in that
account's store. A staff member without an account is listed and left out of contact syncs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.errors import Forbidden, InvalidInput
from scrm.models import STORE_ROLES, User
from wecom.models import StaffStatus, WecomStaff

USERID_MAX = WecomStaff._meta.get_field("userid").max_length


def can_manage_sync(actor) -> bool:
    """Operators (and API keys holding the `wecom` scope) start syncs, read their reports and link
    staff: the connection's own rule."""
    from wecom.services.connection import can_manage_wecom

    return bool(getattr(actor, "is_authenticated", False)) and can_manage_wecom(actor)


def check_can_manage(actor) -> None:
    if not can_manage_sync(actor):
        raise Forbidden(_("Only operators manage the WeCom syncs."))


@dataclass(frozen=True)
class StaffRefresh:
    added: int
    kept: int
    gone: int
    linked: int


def _linkable_accounts(userids) -> dict[str, User]:
    """Active store accounts named like the userids, not yet linked to another WeCom userid."""
    return {
        user.username: user
        for user in User.objects.filter(username__in=list(userids), is_active=True, role__in=STORE_ROLES, wecom=None)
    }


@transaction.atomic
def record_follow_users(userids, *, now=None) -> StaffRefresh:
    """Bring WecomStaff in step with get_follow_user_list's answer: new userids become rows, listed
    ones are seen again (customer contact enabled), rows no longer listed lose customer contact.
    Unlinked rows are linked to the account with the same username, in that account's store."""
    now = now or timezone.now()
    userids = sorted({u for u in userids if isinstance(u, str) and 0 < len(u) <= USERID_MAX})
    existing = set(WecomStaff.objects.filter(userid__in=userids).values_list("userid", flat=True))
    WecomStaff.objects.bulk_create(
        [WecomStaff(userid=u, first_seen_at=now, last_seen_at=now) for u in userids if u not in existing],
        ignore_conflicts=True,
    )
    WecomStaff.objects.filter(userid__in=userids).update(last_seen_at=now, follow_enabled=True)
    gone = WecomStaff.objects.filter(follow_enabled=True).exclude(userid__in=userids).update(follow_enabled=False)
    linked = 0
    unlinked = WecomStaff.objects.select_for_update().filter(userid__in=userids, user=None)
    accounts = _linkable_accounts(unlinked.values_list("userid", flat=True))
    for staff in unlinked.filter(userid__in=list(accounts)).order_by("pk"):
        account = accounts[staff.userid]
        WecomStaff.objects.filter(pk=staff.pk).update(user=account, store_id=account.store_id)
        linked += 1
    return StaffRefresh(added=len(userids) - len(existing), kept=len(existing), gone=gone, linked=linked)


def refresh_staff(*, client=None) -> StaffRefresh:
    """Ask WeCom for the staff with customer contact enabled and record them."""
    from wecom.client import get_client

    answer = (client or get_client()).get("externalcontact/get_follow_user_list")
    return record_follow_users(answer.get("follow_user") or [])


@transaction.atomic
def link_staff(*, staff: WecomStaff, user: User | None, actor) -> WecomStaff:
    """Link a WeCom staff member to a Siyu store account (or unlink with None); the store follows
    the account. One account links to one WeCom userid."""
    check_can_manage(actor)
    staff = WecomStaff.objects.select_for_update().get(pk=staff.pk)
    if user is None:
        staff.user, staff.store = None, None
    else:
        if not user.is_active or user.role not in STORE_ROLES:
            raise InvalidInput(details={"user": [_("Link a WeCom staff member to an active store account.")]})
        if WecomStaff.objects.filter(user=user).exclude(pk=staff.pk).exists():
            raise InvalidInput(details={"user": [_("This account is already linked to another WeCom staff member.")]})
        staff.user, staff.store_id = user, user.store_id
    staff.save(update_fields=["user", "store"])
    return staff


def is_syncable(staff: WecomStaff) -> bool:
    return staff.user_id is not None and staff.follow_enabled and staff.status == StaffStatus.ACTIVE
