"""Applications, approval, direct admission, creators' status and mentors, platform accounts."""

from __future__ import annotations

import pytest

from koc.models import Account, Application, Creator
from koc.services import creators
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope


def test_apply_then_approve(members, bob):
    member = members[0][1]
    application = creators.apply(member_id=member.pk, actor=bob, motivation=" I post daily ",
                                 platforms=["douyin", "xiaohongshu", "douyin"])
    assert (application.state, application.motivation, application.platforms) == (
        "pending", "I post daily", ["xiaohongshu", "douyin"])
    creator = creators.approve(application=application, actor=bob)
    assert (creator.member, creator.status, creator.approved_by) == (member, "active", bob)
    application.refresh_from_db()
    assert application.state == "approved" and application.decided_by == bob
    assert creators.approve(application=application, actor=bob) == creator  # a retry answers the creator


def test_one_pending_application_and_no_application_of_a_creator(members, bob, creator):
    member = members[0][1]
    first = creators.apply(member_id=member.pk, actor=bob)
    with pytest.raises(Conflict) as caught:
        creators.apply(member_id=member.pk, actor=bob)
    assert caught.value.code == "application_pending" and caught.value.details["application"] == first.pk
    with pytest.raises(Conflict) as caught:
        creators.apply(member_id=creator.member_id, actor=bob)
    assert caught.value.code == "already_creator"
    assert Application.objects.count() == 1


def test_bad_application_input_changes_nothing(members, bob):
    with pytest.raises(InvalidInput) as caught:
        creators.apply(member_id=members[0][1].pk, actor=bob, platforms=["myspace"], motivation="x" * 2001)
    assert set(caught.value.details) == {"platforms", "motivation"}
    assert not Application.objects.exists()


def test_clerks_read_only_and_other_stores_not_found(members, bob, carol, dave):
    with pytest.raises(Forbidden):
        creators.apply(member_id=members[0][1].pk, actor=carol)
    application = creators.apply(member_id=members[0][1].pk, actor=bob)
    with pytest.raises(Forbidden):
        creators.approve(application=application, actor=carol)
    with pytest.raises(Forbidden):
        creators.reject(application=application, actor=dave, reason="no")
    with pytest.raises(NotInScope):
        creators.apply(member_id=members[0][2].pk, actor=_manager_of_b(members))
    application.refresh_from_db()
    assert application.state == "pending" and not Creator.objects.exists()


def _manager_of_b(members):
    from scrm.models import User

    return User.objects.create(username="erin", role="store_manager", store=members[1][0].home_store)


def test_reject_needs_a_reason_and_then_the_member_may_apply_again(members, bob):
    application = creators.apply(member_id=members[0][1].pk, actor=bob)
    with pytest.raises(InvalidInput):
        creators.reject(application=application, actor=bob, reason="  ")
    rejected = creators.reject(application=application, actor=bob, reason="Too few posts yet")
    assert (rejected.state, rejected.reason) == ("rejected", "Too few posts yet")
    with pytest.raises(Conflict):
        creators.approve(application=application, actor=bob)
    assert creators.apply(member_id=members[0][1].pk, actor=bob).state == "pending"


def test_admit_is_for_operators_and_approves_a_pending_application(members, alice, bob, creator):
    member = members[0][2]
    pending = creators.apply(member_id=member.pk, actor=bob)
    with pytest.raises(Forbidden):
        creators.admit(member_id=member.pk, actor=bob)
    made = creators.admit(member_id=member.pk, actor=alice, mentor_id=creator.pk, bio="Runner")
    assert (made.mentor, made.bio, made.approved_by) == (creator, "Runner", alice)
    pending.refresh_from_db()
    assert pending.state == "approved"
    with pytest.raises(Conflict):
        creators.admit(member_id=member.pk, actor=alice)


def test_update_status_mentor_and_bio(creator, creator_b, members, alice, bob):
    other = creators.admit(member_id=members[0][1].pk, actor=alice)
    with pytest.raises(InvalidInput) as caught:
        creators.update_creator(creator=creator, actor=bob, mentor=creator.pk)
    assert "own mentor" in caught.value.details["mentor"][0]
    with pytest.raises(InvalidInput):  # another store's creator is not one of bob's
        creators.update_creator(creator=creator, actor=bob, mentor=creator_b.pk)
    with pytest.raises(InvalidInput) as caught:
        creators.update_creator(creator=creator, actor=bob, status="retired", bio="x" * 281)
    assert set(caught.value.details) == {"status", "bio"}
    updated = creators.update_creator(creator=creator, actor=bob, mentor=other, bio=" Hi ", status="paused")
    assert (updated.mentor, updated.bio, updated.status, updated.left_at) == (other, "Hi", "paused", None)
    left = creators.update_creator(creator=creator, actor=bob, status="left")
    assert left.left_at is not None
    assert creators.update_creator(creator=creator, actor=bob, status="active").left_at is None


def test_a_creator_who_left_may_apply_again_and_is_made_active(creator, bob):
    creators.update_creator(creator=creator, actor=bob, status="left")
    application = creators.apply(member_id=creator.member_id, actor=bob)
    again = creators.approve(application=application, actor=bob)
    assert again.pk == creator.pk and again.status == "active" and again.left_at is None


def test_accounts(creator, creator_b, bob, carol, alice):
    account = creators.add_account(creator=creator, actor=bob, platform="xiaohongshu", handle=" coco_runs ",
                                   url="https://www.xiaohongshu.com/user/profile/1", followers=1200)
    assert (account.handle, account.followers) == ("coco_runs", 1200) and account.followers_at
    with pytest.raises(Conflict) as caught:
        creators.add_account(creator=creator, actor=bob, platform="xiaohongshu", handle="another")
    assert caught.value.code == "account_exists"
    with pytest.raises(Conflict) as caught:
        creators.add_account(creator=creator_b, actor=alice, platform="xiaohongshu", handle="coco_runs")
    assert caught.value.code == "account_taken"
    with pytest.raises(InvalidInput) as caught:
        creators.add_account(creator=creator, actor=bob, platform="douyin", handle="", url="https://weibo.com/u/1",
                             followers=-1)
    assert set(caught.value.details) == {"handle", "url", "followers"}
    with pytest.raises(Forbidden):
        creators.update_account(account=account, actor=carol, followers=5)
    updated = creators.update_account(account=account, actor=bob, followers=1500)
    assert updated.followers == 1500
    creators.remove_account(account=account, actor=bob)
    assert not Account.objects.exists()
