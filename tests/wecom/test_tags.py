"""Corp tags both ways against the local WeCom server: pull, re-pull writes nothing, the one conflict
rule, push from Siyu, tag callbacks applied idempotently, Siyu tagging marked in WeCom without echo."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from members.models import MemberTag, Tag, TagGroup
from members.services import tags as member_tags
from wecom.models import (
    CorpTagGroupLink,
    CorpTagLink,
    TagMark,
    TagMarkStatus,
    WecomContact,
    WecomFollow,
    WecomStaff,
)
from wecom.services import events
from wecom.services import tags as services


def _wecom_snapshot(fake):
    return copy.deepcopy(fake.tag_groups)


def _siyu_snapshot():
    return (
        sorted(TagGroup.objects.values_list("pk", "name")),
        sorted(Tag.objects.values_list("pk", "group_id", "name")),
        sorted(CorpTagLink.objects.values_list("pk", "tag_id", "wecom_tag_id", "name_in_wecom")),
    )


def _wecom_tag(fake, tag_id):
    return fake.tag(tag_id)


@pytest.fixture
def pulled(corp, db):
    report = services.sync_tags()
    return corp, report


def test_pull_creates_groups_and_tags_and_a_rerun_writes_nothing(pulled):
    corp, report = pulled
    fake = corp.corp
    assert TagGroup.objects.count() == len(fake.tag_groups) > 0
    assert Tag.objects.count() == len(fake.tag_index) > 0
    assert report.added == len(fake.tag_groups) + len(fake.tag_index)
    for gid, group in fake.tag_groups.items():
        link = CorpTagGroupLink.objects.get(wecom_group_id=gid)
        assert link.group.name == group["group_name"]
        names = sorted(t["name"] for t in group["tags"].values())
        assert sorted(link.group.tags.values_list("name", flat=True)) == names
    before_siyu, before_wecom = _siyu_snapshot(), _wecom_snapshot(fake)
    again = services.sync_tags()
    assert (again.added, again.updated, again.removed, again.failed) == (0, 0, 0, 0)
    assert again.unchanged == len(fake.tag_index)
    assert _siyu_snapshot() == before_siyu
    assert _wecom_snapshot(fake) == before_wecom


def test_conflict_rule(pulled, alice, members):
    corp, _ = pulled
    fake = corp.corp
    links = list(CorpTagLink.objects.select_related("tag").order_by("pk")[:5])
    both, siyu_only, gone_carried, gone_free, deleted_in_siyu = links
    # renamed on both sides: WeCom's name wins
    member_tags.update_tag(tag=both.tag, actor=alice, name="Siyu 的名字")
    fake.edit_corp_tag(id=both.wecom_tag_id, name="WeCom 的名字")
    # renamed in Siyu only: WeCom is renamed
    member_tags.update_tag(tag=siyu_only.tag, actor=alice, name="只在思域改")
    # deleted in WeCom: kept (unlinked) while a member carries it, else deleted
    (a0, *_), _ = members
    member_tags.tag_member(member=a0, tag_ids=[gone_carried.tag_id], actor=alice)
    fake.del_corp_tag(tag_id=[gone_carried.wecom_tag_id, gone_free.wecom_tag_id])
    # deleted in Siyu, unchanged in WeCom: deleted in WeCom
    member_tags.delete_tag(tag=deleted_in_siyu.tag, actor=alice)

    report = services.sync_tags()

    assert Tag.objects.get(pk=both.tag_id).name == "WeCom 的名字"
    assert _wecom_tag(fake, both.wecom_tag_id)["name"] == "WeCom 的名字"
    assert _wecom_tag(fake, siyu_only.wecom_tag_id)["name"] == "只在思域改"
    kept = Tag.objects.get(pk=gone_carried.tag_id)
    assert not CorpTagLink.objects.filter(tag=kept, unlinked_at__isnull=True).exists()
    assert MemberTag.objects.filter(tag=kept, member=a0).exists()
    assert not Tag.objects.filter(pk=gone_free.tag_id).exists()
    assert _wecom_tag(fake, deleted_in_siyu.wecom_tag_id) is None
    assert not CorpTagLink.objects.filter(wecom_tag_id=deleted_in_siyu.wecom_tag_id).exists()
    assert report.updated == 2 and report.removed == 3
    assert sorted(t["name"] for g in fake.tag_groups.values() for t in g["tags"].values()).count(kept.name) == 0
    # and the next run agrees with itself
    again = services.sync_tags()
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_deleted_in_siyu_but_renamed_in_wecom_comes_back(pulled, alice):
    corp, _ = pulled
    link = CorpTagLink.objects.select_related("tag").first()
    member_tags.delete_tag(tag=link.tag, actor=alice)
    corp.corp.edit_corp_tag(id=link.wecom_tag_id, name="改过的")
    services.sync_tags()
    link.refresh_from_db()
    assert link.tag is not None and link.tag.name == "改过的"
    assert _wecom_tag(corp.corp, link.wecom_tag_id)["name"] == "改过的"


def test_push_a_siyu_group_and_new_tags(pulled, alice):
    corp, _ = pulled
    fake = corp.corp
    group = member_tags.create_group(actor=alice, name="会员偏好")
    for name in ("喜欢直播", "喜欢线下活动"):
        member_tags.create_tag(actor=alice, group=group, name=name)
    services.link_group(group=group, actor=alice)
    linked_group = CorpTagGroupLink.objects.get(group=group).pk
    existing = CorpTagGroupLink.objects.exclude(group=group).first()
    extra = member_tags.create_tag(actor=alice, group=existing.group, name="新加的标签")

    services.sync_tags()

    link = CorpTagGroupLink.objects.get(pk=linked_group)
    assert link.wecom_group_id in fake.tag_groups
    pushed = fake.tag_groups[link.wecom_group_id]["tags"].values()
    assert sorted(t["name"] for t in pushed) == ["喜欢直播", "喜欢线下活动"]
    assert CorpTagLink.objects.filter(group_link=link).count() == 2
    extra_link = CorpTagLink.objects.get(tag=extra)
    assert _wecom_tag(fake, extra_link.wecom_tag_id)["name"] == "新加的标签"
    before = _wecom_snapshot(fake)
    services.sync_tags()
    assert _wecom_snapshot(fake) == before  # nothing pushed twice


def test_only_operators_manage_tags(bob, pulled):
    from scrm.errors import Forbidden

    with pytest.raises(Forbidden):
        services.start_run(actor=bob)
    with pytest.raises(Forbidden):
        services.link_group(group=TagGroup.objects.first(), actor=bob)


def _stored(fields):
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return events.store_event(fields, raw_digest=digest)


def test_tag_callbacks_are_applied_idempotently(pulled):
    corp, _ = pulled
    fake = corp.corp
    link = CorpTagLink.objects.select_related("tag").first()
    fake.tag_event(change_type="update", tag_type="tag", id=link.wecom_tag_id, name="回调改名")
    fields = corp.events[-1]
    event = _stored(fields)
    assert events.process_event(event.pk) == "done"
    assert Tag.objects.get(pk=link.tag_id).name == "回调改名"
    snapshot = _siyu_snapshot()
    assert services.apply_tag_event(fields) == "pulled"  # the same event again changes nothing
    assert _siyu_snapshot() == snapshot

    group = fake.tag_groups[link.group_link.wecom_group_id]
    fake.tag_event(change_type="create", tag_type="tag", id=link.wecom_tag_id, name="回调新建")
    created = corp.events[-1]
    for _ in range(2):
        services.apply_tag_event(created)
    assert Tag.objects.filter(name="回调新建", group=link.group_link.group).count() == 1
    assert created["Id"] in group["tags"]

    fake.tag_event(change_type="delete", tag_type="tag", id=created["Id"])
    deleted = corp.events[-1]
    assert services.apply_tag_event(deleted) == "deleted"
    assert services.apply_tag_event(deleted) == "pulled"  # nothing left to delete
    assert not Tag.objects.filter(name="回调新建").exists()
    assert services.apply_tag_event({"ChangeType": "shuffle", "TagType": "tag", "Id": "x"}) == "ignored"


@pytest.fixture
def follow(pulled, members, carol, store_a):
    """A member of store A, owned by carol, who is carol's WeCom contact."""
    corp, _ = pulled
    userid = corp.corp.staff[0]
    added = corp.corp.add_contact(userid=userid, welcome=False)
    (a0, *_), _ = members
    staff = WecomStaff.objects.create(userid=userid, user=carol, store=store_a)
    contact = WecomContact.objects.create(external_userid=added["external_userid"], member=a0)
    return WecomFollow.objects.create(contact=contact, staff=staff)


def _tags_in_wecom(corp, follow):
    fake = corp.corp
    return fake.follow_info(fake.index_of(follow.contact.external_userid), follow.staff.userid)["_tag_ids"]


def test_siyu_tagging_marks_the_tag_in_wecom(pulled, follow, carol, django_capture_on_commit_callbacks):
    corp, _ = pulled
    link = CorpTagLink.objects.select_related("tag").filter(tag__group__multiple=True).first()
    member = follow.contact.member
    with django_capture_on_commit_callbacks(execute=True):
        member_tags.tag_member(member=member, tag_ids=[link.tag_id], actor=carol)
    mark = TagMark.objects.get()
    assert (mark.follow_id, mark.add_tag, mark.remove_tag) == (follow.pk, [link.wecom_tag_id], [])
    assert services.send_marks() == {"done": 1, "not_contact": 0, "failed": 0, "later": 0}
    assert link.wecom_tag_id in _tags_in_wecom(corp, follow)
    mark.refresh_from_db()
    assert mark.status == TagMarkStatus.DONE

    with django_capture_on_commit_callbacks(execute=True):
        member_tags.untag_member(member=member, tag=link.tag, actor=carol)
    services.send_marks()
    assert link.wecom_tag_id not in _tags_in_wecom(corp, follow)


def test_tags_from_wecom_are_not_echoed(pulled, follow, django_capture_on_commit_callbacks):
    link = CorpTagLink.objects.filter(tag__group__multiple=True).first()
    member = follow.contact.member
    with django_capture_on_commit_callbacks(execute=True):
        added, removed = services.apply_follow_tags(staff=follow.staff, follows=[(member.pk, [link.wecom_tag_id])])
    assert (added, removed) == (1, 0)
    assert MemberTag.objects.get(member=member, tag_id=link.tag_id).source == "wecom"
    assert not TagMark.objects.exists()
    # the tag gone from the follow in WeCom: removed in Siyu (no other follow), still not echoed
    with django_capture_on_commit_callbacks(execute=True):
        assert services.apply_follow_tags(staff=follow.staff, follows=[(member.pk, [])]) == (0, 1)
    assert not MemberTag.objects.filter(member=member, tag_id=link.tag_id).exists()
    assert not TagMark.objects.exists()


def test_not_a_contact_is_recorded_not_retried(pulled, follow, carol, django_capture_on_commit_callbacks):
    corp, _ = pulled
    corp.corp.delete(external_userid=follow.contact.external_userid, userid=follow.staff.userid, by="customer")
    link = CorpTagLink.objects.filter(tag__group__multiple=True).first()
    with django_capture_on_commit_callbacks(execute=True):
        member_tags.tag_member(member=follow.contact.member, tag_ids=[link.tag_id], actor=carol)
    assert services.send_marks()["not_contact"] == 1
    mark = TagMark.objects.get()
    assert (mark.status, mark.errcode, mark.attempts) == (TagMarkStatus.NOT_A_CONTACT, 84061, 1)
    assert services.send_marks() == {"done": 0, "not_contact": 0, "failed": 0, "later": 0}


def test_rate_limited_mark_waits(pulled, follow, carol, django_capture_on_commit_callbacks):
    corp, _ = pulled
    link = CorpTagLink.objects.filter(tag__group__multiple=True).first()
    with django_capture_on_commit_callbacks(execute=True):
        member_tags.tag_member(member=follow.contact.member, tag_ids=[link.tag_id], actor=carol)
    corp.set_limits({"per_minute": 0})
    assert services.send_marks()["later"] == 1
    mark = TagMark.objects.get()
    assert mark.status == TagMarkStatus.PENDING and mark.due_at > mark.created_at


def test_tags_run(pulled, alice):
    from wecom.models import RunStatus

    run, created = services.start_run(actor=alice)
    assert created
    assert services.start_run(actor=alice) == (run, False)
    done = services.run(run_id=run.pk)
    assert done.status == RunStatus.DONE and done.unchanged > 0
    assert services.run(run_id=run.pk) is None  # claimed once


def test_beat_starts_a_run_and_restarts_a_stuck_one(pulled):
    from datetime import timedelta

    from django.utils import timezone

    from wecom.models import RunStatus, SyncKind, SyncRun
    from wecom.tasks import tags as tasks

    tasks.scheduled_tags_sync()
    run = SyncRun.objects.get(kind=SyncKind.TAGS)
    assert run.status == RunStatus.QUEUED
    tasks.scheduled_tags_sync()  # one active run per kind
    assert SyncRun.objects.filter(kind=SyncKind.TAGS).count() == 1
    SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING,
                                             heartbeat_at=timezone.now() - timedelta(hours=1))
    tasks.scheduled_tags_sync()
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert services.run(run_id=run.pk).status == RunStatus.DONE
