"""Corp tags kept in step both ways with the member centre's tags, and members' corp tags in WeCom.

A member-centre tag group is synced with WeCom when it has a link (CorpTagGroupLink): every corp
tag group pulled from WeCom is linked, and an operator links a Siyu group on the WeCom tags page
(the next sync creates it in WeCom). Inside a linked group, tags are linked one to one (CorpTagLink,
keeping each tag's name in WeCom as of the last sync, which is how a sync tells who changed what).

The rule for conflicts, one for names and existence alike:

    What changed on one side since the last sync is carried to the other; when both sides changed
    the same tag or group, WeCom's version wins. A tag deleted in WeCom is deleted in Siyu too,
    unless members carry it: then it stays in Siyu, unlinked.

So a tag renamed in Siyu only is renamed in WeCom (edit_corp_tag); renamed on both sides it takes
WeCom's name; deleted in Siyu while WeCom kept it unchanged it is deleted in WeCom (del_corp_tag);
deleted in Siyu but renamed in WeCom it comes back in Siyu under WeCom's name. Rule tags stay in
Siyu (their members are the rule's to decide, not WeCom's).

Members' corp tags: `apply_follow_tags` gives a member the linked tags WeCom shows on a follow
relation (source "wecom"); `queue_marks` turns Siyu tagging into mark_tag calls on the member's
active follow relations (TagMark rows, sent by a worker), never for tags WeCom itself applied.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import MemberTag, Tag, TagGroup, TagSource
from members.services import tags as member_tags
from scrm.actors import SystemActor, actor_label, actor_user
from scrm.errors import Forbidden, ServiceError
from scrm.permissions import is_brand_wide
from wecom.client import errors, get_client
from wecom.models import (
    ACTIVE_RUN_STATUSES,
    CorpTagGroupLink,
    CorpTagLink,
    RunStatus,
    SyncKind,
    SyncRun,
    TagMark,
    TagMarkStatus,
    WecomFollow,
)

logger = logging.getLogger(__name__)

TAGS_ACTOR = SystemActor("wecom:tags")
NAME_MAX = 30  # WeCom's corp tag and group names: at most 30 characters

CONFLICT_RULE = gettext_lazy(
    "What changed on one side since the last sync is carried to the other; when both sides changed the "
    "same tag or group, WeCom's version wins. A tag deleted in WeCom is deleted in Siyu too, unless members "
    "carry it: then it stays in Siyu, unlinked."
)
FOLLOW_RULE = gettext_lazy(
    "Tagging a member in Siyu marks the tag in WeCom on every active follow relation of the member, the "
    "owner's first; tags WeCom applied are not sent back."
)


def can_manage_tags(actor) -> bool:
    """The corp's tag vocabulary is the brand's: operators (and brand-wide actors)."""
    return is_brand_wide(actor) and getattr(actor, "role", None) in ("operator", "system")


def check_can_manage(actor) -> None:
    if not can_manage_tags(actor):
        raise Forbidden(_("Only operators manage WeCom's corp tags."))


@dataclass
class TagReport:
    added: int = 0  # tags created on either side, or linked
    updated: int = 0  # renamed on either side
    unchanged: int = 0
    removed: int = 0  # deleted or unlinked on either side
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, what: str, exc: Exception) -> None:
        self.failed += 1
        if len(self.failures) < 50:
            self.failures.append(f"{what}: {getattr(exc, 'errcode', '') or type(exc).__name__}")


# --- reading WeCom ---------------------------------------------------------------------------------


def fetch_groups(client=None, *, group_ids=None, tag_ids=None) -> list[dict]:
    body = {}
    if group_ids:
        body["group_id"] = list(group_ids)
    if tag_ids:
        body["tag_id"] = list(tag_ids)
    answer = (client or get_client()).post("externalcontact/get_corp_tag_list", body)
    return [g for g in answer.get("tag_group") or [] if not g.get("deleted")]


def _tags_of(group: dict) -> list[dict]:
    return [t for t in group.get("tag") or [] if not t.get("deleted")]


# --- the reconciliation ----------------------------------------------------------------------------


class _Reconciler:
    """One pass over WeCom's groups. With `push`, Siyu's changes are written to WeCom as well; a pull
    alone (a tag callback) only applies WeCom's changes."""

    def __init__(self, client, *, push: bool, report: TagReport):
        self.client, self.push, self.report = client, push, report

    # groups

    def group(self, wecom: dict) -> None:
        gid, name = str(wecom["group_id"]), wecom.get("group_name") or ""
        link = CorpTagGroupLink.objects.select_related("group").filter(wecom_group_id=gid).first()
        if link is None:
            link = self._adopt_group(gid, name)
        elif link.group is None:  # deleted in Siyu since the last sync
            if name == link.name_in_wecom:
                if self.push:
                    self._delete_group_in_wecom(link)
                return
            link.group = self._siyu_group(name)  # ...but renamed in WeCom: WeCom's version wins
            link.name_in_wecom = name
            link.save(update_fields=["group", "name_in_wecom"])
            self.report.added += 1
        elif name != link.name_in_wecom:  # renamed in WeCom: WeCom's name wins
            self._rename_siyu_group(link, name)
        elif self.push and link.group.name[:NAME_MAX] != link.name_in_wecom:
            self._rename_wecom(link, link.group.name[:NAME_MAX], gid)
        self.tags(link, _tags_of(wecom))

    def _adopt_group(self, gid: str, name: str) -> CorpTagGroupLink:
        """A WeCom group with no link: a Siyu group waiting for it (same name), else a Siyu group of
        that name not linked yet, else a new one."""
        pending = CorpTagGroupLink.objects.select_related("group").filter(
            wecom_group_id__isnull=True, group__name=name
        ).first()
        if pending is not None:
            pending.wecom_group_id, pending.name_in_wecom = gid, name
            pending.save(update_fields=["wecom_group_id", "name_in_wecom"])
            return pending
        self.report.added += 1
        return CorpTagGroupLink.objects.create(group=self._siyu_group(name), wecom_group_id=gid, name_in_wecom=name)

    def _siyu_group(self, name: str) -> TagGroup:
        existing = TagGroup.objects.filter(name=name, wecom__isnull=True).first()
        if existing is not None:
            return existing
        unique = name if not TagGroup.objects.filter(name=name).exists() else f"{name} (WeCom)"
        return member_tags.create_group(actor=TAGS_ACTOR, name=unique)

    def _rename_siyu_group(self, link: CorpTagGroupLink, name: str) -> None:
        try:
            member_tags.update_group(group=link.group, actor=TAGS_ACTOR, name=name)
        except ServiceError as exc:
            self.report.fail(f"group {link.wecom_group_id}", exc)
            return
        link.name_in_wecom = name
        link.save(update_fields=["name_in_wecom"])
        self.report.updated += 1

    def _rename_wecom(self, link, name: str, wecom_id: str) -> None:
        try:
            self.client.post("externalcontact/edit_corp_tag", {"id": wecom_id, "name": name})
        except (errors.PermissionDenied, errors.InvalidRequest) as exc:
            self.report.fail(f"edit {wecom_id}", exc)
            return
        link.name_in_wecom = name
        link.save(update_fields=["name_in_wecom"])
        self.report.updated += 1

    def _delete_group_in_wecom(self, link: CorpTagGroupLink) -> None:
        try:
            self.client.post("externalcontact/del_corp_tag", {"group_id": [link.wecom_group_id]})
        except (errors.PermissionDenied, errors.InvalidRequest) as exc:
            self.report.fail(f"delete group {link.wecom_group_id}", exc)
            return
        link.delete()
        self.report.removed += 1

    def group_gone(self, link: CorpTagGroupLink) -> None:
        """A linked group WeCom no longer has: its tags as deleted in WeCom, then the group itself
        (deleted in Siyu when no tag is left in it, else unlinked)."""
        self.tags(link, [], push_new=False)
        group = link.group
        link.delete()
        self.report.removed += 1
        if group is not None and not group.tags.exists():
            member_tags.delete_group(group=group, actor=TAGS_ACTOR)

    # tags

    def tags(self, link: CorpTagGroupLink, wecom_tags: list[dict], *, push_new: bool = True) -> None:
        seen = set()
        for wecom in wecom_tags:
            seen.add(str(wecom["id"]))
            self.tag(link, str(wecom["id"]), wecom.get("name") or "")
        for tag_link in CorpTagLink.objects.select_related("tag").filter(
            group_link=link, unlinked_at__isnull=True
        ).exclude(wecom_tag_id__in=seen):
            self._gone_in_wecom(tag_link)
        if push_new and self.push and link.group is not None and link.wecom_group_id:
            self._push_new_tags(link)

    def tag(self, link: CorpTagGroupLink, tid: str, name: str) -> None:
        tag_link = CorpTagLink.objects.select_related("tag").filter(wecom_tag_id=tid).first()
        if tag_link is None:
            tag = self._siyu_tag(link, name)
            if tag is not None:
                CorpTagLink.objects.create(tag=tag, wecom_tag_id=tid, group_link=link, name_in_wecom=name)
                self.report.added += 1
        elif tag_link.tag is None:  # deleted in Siyu since the last sync
            if self.push and name == tag_link.name_in_wecom:
                self._delete_tag_in_wecom(tag_link)
            elif name != tag_link.name_in_wecom:  # ...but renamed in WeCom: WeCom's version wins
                tag = self._siyu_tag(link, name)
                if tag is not None:
                    tag_link.tag, tag_link.name_in_wecom = tag, name
                    tag_link.save(update_fields=["tag", "name_in_wecom"])
                    self.report.added += 1
        elif name != tag_link.name_in_wecom:  # renamed in WeCom (maybe in Siyu too): WeCom wins
            try:
                member_tags.update_tag(tag=tag_link.tag, actor=TAGS_ACTOR, name=name)
            except ServiceError as exc:
                self.report.fail(f"tag {tid}", exc)
                return
            tag_link.name_in_wecom = name
            tag_link.save(update_fields=["name_in_wecom"])
            self.report.updated += 1
        elif self.push and tag_link.tag.name[:NAME_MAX] != tag_link.name_in_wecom:  # renamed in Siyu only
            self._rename_wecom(tag_link, tag_link.tag.name[:NAME_MAX], tid)
        else:
            self.report.unchanged += 1

    def _siyu_tag(self, link: CorpTagGroupLink, name: str) -> Tag | None:
        if link.group is None:
            return None
        existing = Tag.objects.filter(group=link.group, name=name, wecom__isnull=True).first()
        if existing is not None:
            return existing
        if Tag.objects.filter(group=link.group, name=name).exists():
            name = f"{name} (WeCom)"[:64]
        try:
            return member_tags.create_tag(actor=TAGS_ACTOR, group=link.group, name=name)
        except ServiceError as exc:
            self.report.fail(f"tag in group {link.wecom_group_id}", exc)
            return None

    def _gone_in_wecom(self, tag_link: CorpTagLink) -> None:
        """Deleted in WeCom: deleted in Siyu too, or, while members carry it, kept and unlinked (the
        link row stays, marked, so the tag is not pushed back as a new one)."""
        if tag_link.unlinked_at is not None:
            return
        tag = tag_link.tag
        self.report.removed += 1
        if tag is not None and MemberTag.objects.filter(tag=tag).exists():
            tag_link.unlinked_at = timezone.now()
            tag_link.save(update_fields=["unlinked_at"])
            return
        tag_link.delete()
        if tag is not None:
            member_tags.delete_tag(tag=tag, actor=TAGS_ACTOR)

    def _delete_tag_in_wecom(self, tag_link: CorpTagLink) -> None:
        try:
            self.client.post("externalcontact/del_corp_tag", {"tag_id": [tag_link.wecom_tag_id]})
        except (errors.PermissionDenied, errors.InvalidRequest) as exc:
            self.report.fail(f"delete tag {tag_link.wecom_tag_id}", exc)
            return
        tag_link.delete()
        self.report.removed += 1

    def _push_new_tags(self, link: CorpTagGroupLink) -> None:
        new = list(Tag.objects.filter(group=link.group, wecom__isnull=True, rule__isnull=True).order_by("pk"))
        if not new:
            return
        body = {"group_id": link.wecom_group_id, "tag": [{"name": t.name[:NAME_MAX]} for t in new]}
        self._add_and_link(link, body, new)

    def _add_and_link(self, link: CorpTagGroupLink, body: dict, new: list[Tag]) -> None:
        try:
            answer = self.client.post("externalcontact/add_corp_tag", body)
        except (errors.PermissionDenied, errors.InvalidRequest) as exc:
            self.report.fail(f"add to group {link.wecom_group_id or '-'}", exc)
            return
        created = answer.get("tag_group") or {}
        if not link.wecom_group_id:
            link.wecom_group_id = str(created.get("group_id"))
            link.name_in_wecom = created.get("group_name") or link.group.name[:NAME_MAX]
            link.save(update_fields=["wecom_group_id", "name_in_wecom"])
        by_name = {t.name[:NAME_MAX]: t for t in new}
        for wecom in created.get("tag") or []:
            tag = by_name.pop(wecom.get("name"), None)
            if tag is not None and not CorpTagLink.objects.filter(wecom_tag_id=str(wecom["id"])).exists():
                CorpTagLink.objects.create(
                    tag=tag, wecom_tag_id=str(wecom["id"]), group_link=link, name_in_wecom=wecom.get("name")
                )
                self.report.added += 1

    def pending_groups(self) -> None:
        """Siyu groups an operator linked, not in WeCom yet (a same-named WeCom group was adopted by
        `group` already): created with their tags (WeCom has no empty groups)."""
        for link in CorpTagGroupLink.objects.select_related("group").filter(
            wecom_group_id__isnull=True, group__isnull=False
        ):
            new = list(Tag.objects.filter(group=link.group, wecom__isnull=True, rule__isnull=True).order_by("pk"))
            if new:
                body = {"group_name": link.group.name[:NAME_MAX], "tag": [{"name": t.name[:NAME_MAX]} for t in new]}
                self._add_and_link(link, body, new)


def sync_tags(*, client=None) -> TagReport:
    """Both ways, all groups: the body of a SyncKind.TAGS run. Safe to re-run: a second run right
    after the first writes nothing on either side."""
    client = client or get_client()
    report = TagReport()
    wecom_groups = fetch_groups(client)
    reconciler = _Reconciler(client, push=True, report=report)
    present = set()
    for group in wecom_groups:
        present.add(str(group["group_id"]))
        with transaction.atomic():
            reconciler.group(group)
    for link in CorpTagGroupLink.objects.select_related("group").filter(wecom_group_id__isnull=False).exclude(
        wecom_group_id__in=present
    ):
        with transaction.atomic():
            reconciler.group_gone(link)
    with transaction.atomic():
        reconciler.pending_groups()
    return report


def link_group(*, group: TagGroup, actor) -> CorpTagGroupLink:
    """Mark a Siyu tag group "synced with WeCom": the next tags sync creates it there (or adopts a
    WeCom group of the same name)."""
    check_can_manage(actor)
    link, _created = CorpTagGroupLink.objects.get_or_create(group=group)
    return link


# --- callbacks: change_external_tag ----------------------------------------------------------------


def apply_tag_event(payload: dict, *, client=None) -> str:
    """A change_external_tag callback (create / update / delete / shuffle of a tag or a group),
    applied as WeCom's change: the group is read back and pulled, so a repeated or out-of-order
    event changes nothing more. Returns what was done ("pulled", "deleted", "ignored")."""
    change, kind, wecom_id = payload.get("ChangeType"), payload.get("TagType"), str(payload.get("Id") or "")
    if change == "shuffle" or not wecom_id:
        return "ignored"  # order only: Siyu keeps its own order
    client = client or get_client()
    report = TagReport()
    reconciler = _Reconciler(client, push=False, report=report)
    if kind == "tag_group":
        groups = fetch_groups(client, group_ids=[wecom_id])
    else:
        found = fetch_groups(client, tag_ids=[wecom_id])
        group_ids = [str(g["group_id"]) for g in found]
        if not group_ids:
            link = CorpTagLink.objects.filter(wecom_tag_id=wecom_id).select_related("group_link").first()
            group_ids = [link.group_link.wecom_group_id] if link and link.group_link.wecom_group_id else []
        groups = fetch_groups(client, group_ids=group_ids) if group_ids else []
    with transaction.atomic():
        for group in groups:
            reconciler.group(group)
        if kind == "tag_group" and not groups:
            link = CorpTagGroupLink.objects.filter(wecom_group_id=wecom_id).first()
            if link is not None:
                reconciler.group_gone(link)
        if kind != "tag_group" and not groups:
            tag_link = CorpTagLink.objects.filter(wecom_tag_id=wecom_id, unlinked_at__isnull=True).select_related(
                "tag"
            ).first()
            if tag_link is not None:
                reconciler._gone_in_wecom(tag_link)
    return "deleted" if report.removed else "pulled"


# --- members' corp tags ----------------------------------------------------------------------------


def apply_follow_tags(*, staff, follows: Iterable[tuple[int, Iterable[str]]], actor=TAGS_ACTOR) -> tuple[int, int]:
    """For the contacts sync: one staff member's follow relations, as (member_id, the WeCom corp tag
    ids on the follow). Members get the linked Siyu tags WeCom shows (source "wecom", so they are not
    pushed back); a linked tag the member got from WeCom and WeCom no longer shows is removed when no
    other active follow relation of the member might carry it. Unlinked ids and rule tags are
    skipped. Returns (added, removed). Call inside the page's transaction."""
    follows = [(int(m), {str(t) for t in ids}) for m, ids in follows]
    if not follows:
        return 0, 0
    wanted = {t for _m, ids in follows for t in ids}
    links = {
        link.wecom_tag_id: link.tag
        for link in CorpTagLink.objects.select_related("tag__group")
        .filter(tag__isnull=False, tag__rule__isnull=True, unlinked_at__isnull=True)
        .filter(Q(wecom_tag_id__in=wanted) | Q(tag__member_tags__member_id__in=[m for m, _ids in follows]))
        .distinct()
    }
    pairs, single_seen = [], set()
    for member_id, ids in follows:
        for wecom_id in sorted(ids):
            tag = links.get(wecom_id)
            if tag is None:
                continue
            if not tag.group.multiple:
                if (member_id, tag.group_id) in single_seen:
                    continue
                single_seen.add((member_id, tag.group_id))
            pairs.append((member_id, tag))
    added = member_tags.apply_pairs(pairs, actor=actor, source=TagSource.WECOM) if pairs else 0
    removed = _remove_dropped(staff, follows, links, actor)
    return added, removed


def _remove_dropped(staff, follows, links, actor) -> int:
    linked_ids = {tag.pk: wecom_id for wecom_id, tag in links.items()}
    if not linked_ids:
        return 0  # no linked tag among these members' or these follows' tags: nothing to take off
    member_ids = [m for m, _ids in follows]
    others = set(
        WecomFollow.objects.filter(contact__member_id__in=member_ids, deleted_at__isnull=True)
        .exclude(staff=staff)
        .values_list("contact__member_id", flat=True)
    )
    carried = defaultdict(list)
    for member_id, tag_id in MemberTag.objects.filter(
        member_id__in=[m for m in member_ids if m not in others], tag_id__in=list(linked_ids), source=TagSource.WECOM
    ).values_list("member_id", "tag_id"):
        carried[member_id].append(tag_id)
    shown = dict(follows)
    dropped = defaultdict(list)  # tag id -> members WeCom no longer shows it on
    for member_id, tag_ids in carried.items():
        for tag_id in tag_ids:
            if linked_ids[tag_id] not in shown.get(member_id, ()):
                dropped[tag_id].append(member_id)
    return sum(
        member_tags.untag_members(tag=Tag(pk=tag_id), members=members, actor=actor, source=TagSource.WECOM).changed
        for tag_id, members in sorted(dropped.items())
    )


def queue_marks(added: list[tuple[int, int]], removed: list[tuple[int, int]], source: str) -> list[int]:
    """members.hooks.on_tags_changed: linked tags added to / removed from members in Siyu become
    TagMark rows, one per active follow relation of each member (the owner's first), sent by a
    worker. Tags WeCom applied (source "wecom") are not echoed back. Returns the rows written."""
    if source == TagSource.WECOM or not (added or removed):
        return []
    tag_ids = {t for _m, t in added} | {t for _m, t in removed}
    wecom_ids = dict(
        CorpTagLink.objects.filter(tag_id__in=tag_ids, unlinked_at__isnull=True).values_list("tag_id", "wecom_tag_id")
    )
    if not wecom_ids:
        return []
    changes: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for member_id, tag_id in added:
        if tag_id in wecom_ids:
            changes[member_id][0].append(wecom_ids[tag_id])
    for member_id, tag_id in removed:
        if tag_id in wecom_ids:
            changes[member_id][1].append(wecom_ids[tag_id])
    follows = (
        WecomFollow.objects.filter(contact__member_id__in=list(changes), deleted_at__isnull=True)
        .select_related("contact__member", "staff")
        .order_by("contact__member_id", "id")
    )
    rows = []
    for follow in sorted(follows, key=lambda f: (f.contact.member_id, f.staff.user_id != f.contact.member.owner_id,
                                                 f.pk)):
        add, remove = changes[follow.contact.member_id]
        rows.append(TagMark(follow=follow, add_tag=sorted(set(add)), remove_tag=sorted(set(remove) - set(add))))
    created = TagMark.objects.bulk_create(rows)
    ids = [row.pk for row in created]
    if ids:
        from wecom.tasks import tags as tasks

        transaction.on_commit(lambda: tasks.send_marks.delay(ids))
    return ids


def send_marks(*, mark_ids: Iterable[int] | None = None, limit: int = 500, client=None) -> dict[str, int]:
    """Send pending TagMark rows (given ones, or any due): each claimed with SKIP LOCKED, sent with
    mark_tag, and settled. 84061 (no longer a contact) and other refusals are recorded, not retried;
    a rate limit or outage leaves the row pending, due again later, and stops the batch."""
    client = client or get_client()
    counts = {"done": 0, "not_contact": 0, "failed": 0, "later": 0}
    while True:
        with transaction.atomic():
            queryset = TagMark.objects.select_for_update(skip_locked=True).select_related(
                "follow__staff", "follow__contact"
            ).filter(status=TagMarkStatus.PENDING, due_at__lte=timezone.now())
            if mark_ids is not None:
                queryset = queryset.filter(pk__in=list(mark_ids))
            mark = queryset.order_by("id").first()
            if mark is None:
                return counts
            outcome = _send_one(client, mark)
            counts[outcome] += 1
            if outcome == "later" or sum(counts.values()) >= limit:
                return counts


def _send_one(client, mark: TagMark) -> str:
    mark.attempts += 1
    body = {"userid": mark.follow.staff.userid, "external_userid": mark.follow.contact.external_userid}
    if mark.add_tag:
        body["add_tag"] = mark.add_tag
    if mark.remove_tag:
        body["remove_tag"] = mark.remove_tag
    try:
        client.post("externalcontact/mark_tag", body)
    except errors.NotAContact as exc:
        mark.status, mark.errcode = TagMarkStatus.NOT_A_CONTACT, exc.errcode
    except (errors.RateLimited, errors.Unavailable) as exc:
        mark.errcode = exc.errcode
        mark.due_at = timezone.now() + timedelta(seconds=getattr(exc, "retry_after", 60.0))
        mark.save(update_fields=["attempts", "errcode", "due_at"])
        return "later"
    except errors.WecomError as exc:
        mark.status, mark.errcode = TagMarkStatus.FAILED, exc.errcode
    else:
        mark.status, mark.errcode = TagMarkStatus.DONE, None
    mark.done_at = timezone.now()
    mark.save(update_fields=["attempts", "status", "errcode", "done_at"])
    return {TagMarkStatus.DONE: "done", TagMarkStatus.NOT_A_CONTACT: "not_contact"}.get(mark.status, "failed")


# --- runs ------------------------------------------------------------------------------------------


def start_run(*, actor) -> tuple[SyncRun, bool]:
    """A SyncKind.TAGS run, queued; when one is active already, that one."""
    check_can_manage(actor)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=SyncKind.TAGS, requested_by=actor_user(actor), requested_by_label=actor_label(actor)[:64]
            )
    except IntegrityError:
        active = SyncRun.objects.filter(kind=SyncKind.TAGS, status__in=ACTIVE_RUN_STATUSES).first()
        if active is None:
            return start_run(actor=actor)
        return active, False
    from wecom.tasks import tags as tasks

    transaction.on_commit(lambda: tasks.run_tags.delay(run.pk))
    return run, True


def run(*, run_id: int, client=None) -> SyncRun | None:
    """Run a queued or paused tags run (claimed with a conditional UPDATE, so two deliveries run it
    once). A rate limit or outage pauses it with `resume_at`; refused credentials fail it."""
    now = timezone.now()
    claimed = SyncRun.objects.filter(
        pk=run_id, kind=SyncKind.TAGS, status__in=(RunStatus.QUEUED, RunStatus.PAUSED)
    ).update(status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    row = SyncRun.objects.get(pk=run_id)
    try:
        report = sync_tags(client=client)
    except (errors.RateLimited, errors.Unavailable) as exc:
        delay = getattr(exc, "retry_after", 60.0)
        row.status, row.pause_reason = RunStatus.PAUSED, type(exc).__name__.lower()[:32]
        row.resume_at = timezone.now() + timedelta(seconds=delay)
        row.error_code = str(exc.errcode or "")[:32]
        row.save(update_fields=["status", "pause_reason", "resume_at", "error_code"])
        return row
    except errors.WecomError as exc:
        row.status, row.finished_at = RunStatus.FAILED, timezone.now()
        row.error_code, row.error = str(exc.errcode or type(exc).__name__)[:32], str(exc)[:500]
        row.save(update_fields=["status", "finished_at", "error_code", "error"])
        return row
    row.status, row.finished_at, row.heartbeat_at = RunStatus.DONE, timezone.now(), timezone.now()
    row.added, row.updated, row.unchanged = report.added, report.updated, report.unchanged
    row.removed, row.failed = report.removed, report.failed
    row.error = "; ".join(report.failures)[:500]
    row.save()
    return row


def last_run() -> SyncRun | None:
    return SyncRun.objects.filter(kind=SyncKind.TAGS).order_by("-created_at").first()
