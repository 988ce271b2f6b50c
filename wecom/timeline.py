"""The WeCom connector's entries on the member timeline: a staff member added the customer (how,
through which channel state), and the follow ended (the customer deleted the staff member, the
staff member deleted the customer, or the customer is no longer listed)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from members.timeline import Entry, Window
from wecom.models import CustomerGroupMember, DeletedBy, WecomFollow

MESSAGES = {
    "added": _("Added on WeCom by staff member %(staff)s"),
    "added_state": _("Added on WeCom by staff member %(staff)s through channel %(state)s"),
    "deleted_customer": _("Deleted staff member %(staff)s on WeCom"),
    "deleted_staff": _("Staff member %(staff)s deleted the customer on WeCom"),
    "deleted": _("No longer a WeCom contact of staff member %(staff)s"),
    "group_joined": _("Joined the WeCom customer group %(group)s"),
    "group_left": _("Left the WeCom customer group %(group)s"),
}


def _staff(follow) -> str:
    user = follow.staff.user
    return (user.display_name or user.username) if user else follow.staff.userid


def added_source(window: Window):
    follows = WecomFollow.objects.filter(contact__member=window.member, added_at__isnull=False).select_related(
        "staff__user"
    )
    return [
        Entry(at=f.added_at, pk=f.pk, code="added_state" if f.state else "added",
              params={"staff": _staff(f), "state": f.state})
        for f in window.page(follows, at="added_at")
    ]


def deleted_source(window: Window):
    follows = WecomFollow.objects.filter(contact__member=window.member, deleted_at__isnull=False).select_related(
        "staff__user"
    )
    codes = {DeletedBy.CUSTOMER: "deleted_customer", DeletedBy.STAFF: "deleted_staff"}
    return [
        Entry(at=f.deleted_at, pk=f.pk, code=codes.get(f.deleted_by, "deleted"), params={"staff": _staff(f)})
        for f in window.page(follows, at="deleted_at")
    ]


def _groups(window: Window, at: str):
    # The reader's scope: a store role sees the memberships of its store's groups only.
    rows = CustomerGroupMember.objects.visible_to(window.reader).filter(
        member=window.member, **{f"{at}__isnull": False}
    ).select_related("group")
    return window.page(rows, at=at)


def group_joined_source(window: Window):
    return [Entry(at=m.joined_at, pk=m.pk, code="group_joined", params={"group": m.group.name or m.group.chat_id})
            for m in _groups(window, "joined_at")]


def group_left_source(window: Window):
    return [Entry(at=m.left_at, pk=m.pk, code="group_left", params={"group": m.group.name or m.group.chat_id})
            for m in _groups(window, "left_at")]


def register() -> None:
    from members import timeline

    timeline.register("wecom", added_source, label=_("WeCom"), messages=MESSAGES, order=60)
    timeline.register("wecom", deleted_source, name="wecom.deleted", messages=MESSAGES)
    timeline.register("wecom", group_joined_source, name="wecom.group_joined", messages=MESSAGES)
    timeline.register("wecom", group_left_source, name="wecom.group_left", messages=MESSAGES)
