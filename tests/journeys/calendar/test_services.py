"""The content calendar against the local WeCom server over real HTTP: planning with every bad input
refused and nothing written, a Moment's job polled while it stays running, its senders' publish status
until posted (their tasks done), a failed job with invalid senders, a customer-group post, a lost
answer settled by reading back instead of creating twice, and cancelling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from journeys.calendar import services
from journeys.calendar.models import PlannedPost, PostStaff
from journeys.calendar.services import PostInput
from journeys.models import Task
from members.models import Tag, TagGroup
from scrm.errors import Forbidden, InvalidInput
from scrm.models import Event
from tests.journeys.calendar.conftest import later
from wecom.models import CorpTagGroupLink, CorpTagLink, WecomStaff

pytestmark = pytest.mark.django_db


def _details(excinfo) -> dict:
    return excinfo.value.details


def test_bad_input_is_refused_with_what_and_where_and_writes_nothing(linked, plan, bob, carol, store_b, dave):
    cases = [
        ({"text": "", "link_url": ""}, "text"),
        ({"publish_at": timezone.now() - dt.timedelta(hours=2)}, "publish_at"),
        ({"title": " "}, "title"),
        ({"text": "很" * 1400}, "text"),
        ({"link_url": "javascript:alert(1)"}, "link_url"),
        ({"store": store_b}, "store"),
        ({"audience": "all"}, "audience"),
        ({"audience": "staff", "staff_ids": []}, "staff"),
        ({"audience": "staff", "staff_ids": [dave.pk]}, "staff"),
        ({"kind": "group", "tag_ids": [1]}, "tags"),
        ({"tag_ids": [999999]}, "tags"),
    ]
    for fields, where in cases:
        with pytest.raises(InvalidInput) as excinfo:
            plan(bob, **fields)
        assert where in _details(excinfo), (fields, _details(excinfo))
    # A chosen staff member who left, and one with no WeCom account: each named.
    carol.is_active = False
    carol.save()
    WecomStaff.objects.filter(user=bob).delete()
    with pytest.raises(InvalidInput) as excinfo:
        plan(bob, audience="staff", staff_ids=[carol.pk, bob.pk])
    problems = " ".join(_details(excinfo)["staff"])
    assert "has left" in problems and "no active WeCom account" in problems
    assert PlannedPost.objects.count() == 0 and Event.objects.filter(type__startswith="content_post").count() == 0


def test_a_clerk_reads_but_does_not_plan(linked, plan, carol):
    with pytest.raises(Forbidden):
        plan(carol)


def test_a_moment_job_stays_running_for_a_few_polls_then_staff_post_and_their_tasks_are_done(corp, linked, plan,
                                                                                            alice, bob, carol):
    corp.corp.moments.running_polls = 3
    post = plan(bob)
    assert post.state == "scheduled"
    services.tick()
    post.refresh_from_db()
    assert post.state == "submitted" and post.jobid
    assert sorted(PostStaff.objects.filter(post=post).values_list("userid", "status")) == [
        ("bob", "pending"), ("carol", "pending")]
    # Three polls answer "started" / "running": the post waits with a growing backoff.
    waits = []
    moment = timezone.now()
    for _ in range(3):
        moment = moment + dt.timedelta(seconds=400)
        services.tick(now=moment)
        post.refresh_from_db()
        assert post.state == "submitted"
        waits.append((post.next_poll_at - moment).total_seconds())
    assert post.polls == 3 and waits == sorted(waits)
    services.tick(now=moment + dt.timedelta(seconds=400))
    post.refresh_from_db()
    assert post.state == "created" and post.moment_id
    assert corp.calls("externalcontact/add_moment_task") == 1
    assert corp.calls("externalcontact/get_moment_task_result") == 4
    tasks = Task.objects.filter(dedupe_key__startswith=f"calendar:{post.pk}:")
    assert sorted(t.assignee.username for t in tasks) == ["bob", "carol"]
    assert all(t.state == "open" and t.code == "post_moment" for t in tasks)
    assert "新品上市" in tasks.get(assignee=carol).title_text

    corp.corp.moments.publish(post.moment_id, "carol")
    services.tick(now=moment + dt.timedelta(seconds=2000))
    rows = dict(PostStaff.objects.filter(post=post).values_list("userid", "status"))
    assert rows == {"carol": "posted", "bob": "pending"}
    assert tasks.get(assignee=carol).state == "done" and tasks.get(assignee=bob).state == "open"
    assert Event.objects.filter(type="content_post.staff_posted").count() == 1
    states = list(Event.objects.filter(type="content_post.state_changed").order_by("id")
                  .values_list("data__state", flat=True))
    assert states == ["scheduled", "submitted", "created"]
    # A store manager's view of the completion: their store's staff.
    from journeys.calendar import queries

    assert queries.completion(post, bob) | {} == {"senders": 2, "posted": 1, "pending": 1, "refused": 0,
                                                  "skipped": 0, "share": 50}


def test_a_job_that_never_finishes_fails_after_its_polls(corp, linked, plan, bob):
    corp.corp.moments.running_polls = 100
    post = plan(bob)
    moment = timezone.now()
    for _ in range(services.JOB_MAX_POLLS + 2):
        services.tick(now=moment)
        moment += dt.timedelta(seconds=services.JOB_MAX_WAIT + 1)
    post.refresh_from_db()
    assert post.state == "failed" and "polls" in post.error
    assert corp.calls("externalcontact/get_moment_task_result") == services.JOB_MAX_POLLS


def test_a_failed_job_with_invalid_senders_is_recorded(corp, linked, plan, bob, carol, store_a):
    # Both senders' WeCom ids are unknown to the corp (gone from WeCom): the job fails, each refused.
    WecomStaff.objects.filter(user=carol).update(userid="ghost-carol")
    WecomStaff.objects.filter(user=bob).update(userid="ghost-bob")
    post = plan(bob)
    services.tick()
    services.tick(now=later(10))
    post.refresh_from_db()
    assert post.state == "failed"
    assert "ghost-bob" in post.error and "ghost-carol" in post.error
    assert set(PostStaff.objects.filter(post=post).values_list("status", flat=True)) == {"refused"}
    assert not Task.objects.filter(dedupe_key__startswith=f"calendar:{post.pk}:").exists()


def test_one_invalid_sender_is_refused_and_the_rest_post(corp, linked, plan, bob, carol):
    WecomStaff.objects.filter(user=carol).update(userid="ghost-carol")
    post = plan(bob)
    services.tick()
    services.tick(now=later(10))
    post.refresh_from_db()
    assert post.state == "created"
    rows = dict(PostStaff.objects.filter(post=post).values_list("userid", "status"))
    assert rows == {"ghost-carol": "refused", "bob": "pending"}


def test_visibility_tags_go_to_wecom_as_corp_tag_ids(corp, linked, plan, bob):
    group = TagGroup.objects.create(name="口味")
    tag = Tag.objects.create(group=group, name="黑巧")
    link = CorpTagGroupLink.objects.create(group=group, wecom_group_id="etgroup1")
    wecom_tag = next(iter(corp.corp.tag_index))
    CorpTagLink.objects.create(tag=tag, wecom_tag_id=wecom_tag, group_link=link)
    post = plan(bob, tag_ids=[tag.pk])
    services.tick()
    job = corp.corp.moments.jobs[PlannedPost.objects.get(pk=post.pk).jobid]
    assert job["tags"] == [wecom_tag] and sorted(job["senders"]) == ["bob", "carol"]


def test_a_lost_answer_is_settled_by_reading_back_not_by_a_second_task(corp, linked, plan, bob, settings):
    settings.WECOM_TIMEOUT_SECONDS = 0.5
    corp.delay_answers("externalcontact/add_moment_task", 1.5)
    post = plan(bob)
    services.tick()
    post.refresh_from_db()
    assert post.state == "submitted" and post.jobid == "" and post.error == services.UNKNOWN
    corp.delay_answers("externalcontact/add_moment_task", 0)
    services.tick(now=later(services.UNKNOWN_GRACE.total_seconds() + 5))
    post.refresh_from_db()
    assert post.state == "created" and post.moment_id
    assert corp.calls("externalcontact/add_moment_task") == 1
    assert len(corp.corp.moments.moments) == 1


def test_a_customer_group_post_is_one_task_per_sender_and_its_sends_are_read_back(make_corp, linked, plan, bob):
    corp = make_corp(confirm_share=1.0, confirm_delay=0)
    post = plan(bob, kind="group", link_url="https://example.com/cocoa", link_title="可可冷萃")
    services.tick()
    post.refresh_from_db()
    assert post.state == "created"
    assert corp.calls("externalcontact/add_msg_template") == 2
    rows = list(PostStaff.objects.filter(post=post).values_list("userid", "msgid"))
    assert all(msgid for _u, msgid in rows)
    task = corp.corp.msg_tasks[rows[0][1]]
    assert task["chat_type"] == "group" and task["attachments"][0]["link"]["url"] == "https://example.com/cocoa"
    services.tick(now=later(services.publish_poll_seconds() + 5))
    assert set(PostStaff.objects.filter(post=post).values_list("status", flat=True)) == {"posted"}


def test_cancel_stops_the_moment_in_wecom_and_skips_the_tasks(corp, linked, plan, bob, alice):
    post = plan(bob)
    services.tick()
    services.tick(now=later(10))
    post.refresh_from_db()
    assert post.state == "created"
    post = services.cancel_post(actor=bob, post=post)
    assert post.state == "cancelled" and post.closed_at is not None
    assert corp.corp.moments.moments[post.moment_id]["cancelled_at"] is not None
    assert set(Task.objects.filter(dedupe_key__startswith=f"calendar:{post.pk}:").values_list("state", flat=True)) \
        == {"skipped"}
    again = services.cancel_post(actor=bob, post=post)  # a retry answers it as it is
    assert again.state == "cancelled" and corp.calls("externalcontact/cancel_moment_task") == 1


def test_a_brand_wide_post_is_the_operators(corp, linked, plan, alice, bob):
    post = plan(alice, audience="all", store=None)
    with pytest.raises(Forbidden):
        services.cancel_post(actor=bob, post=post)
    services.tick()
    assert sorted(PostStaff.objects.filter(post=post).values_list("userid", flat=True)) == ["bob", "carol", "dave"]
    # A store manager sees their own store's senders only.
    assert set(PostStaff.objects.visible_to(bob).filter(post=post).values_list("userid", flat=True)) == {"bob",
                                                                                                     "carol"}


def test_a_draft_is_not_sent_and_a_past_draft_may_be_kept(corp, linked, plan, bob):
    draft = plan(bob, schedule=False, publish_at=timezone.now() - dt.timedelta(days=1))
    services.tick()
    draft.refresh_from_db()
    assert draft.state == "draft" and corp.calls("externalcontact/add_moment_task") == 0


def test_editing_a_post_wecom_has_is_refused(corp, linked, plan, bob):
    from scrm.errors import Conflict

    post = plan(bob)
    services.tick()
    with pytest.raises(Conflict):
        services.save_post(actor=bob, post=post, data=PostInput(title="改", publish_at=later(3600), text="x",
                                                                 audience="store", store=post.store))


def test_a_chosen_staff_member_who_left_before_the_time_is_recorded_as_left_out(corp, linked, plan, bob, carol):
    post = plan(bob, audience="staff", staff_ids=[carol.pk, bob.pk])
    carol.is_active = False
    carol.save()
    services.tick()
    rows = {r.userid or r.name: (r.status, r.reason) for r in PostStaff.objects.filter(post=post)}
    assert rows["bob"] == ("pending", "")
    assert rows["Carol"][0] == "skipped" and "Left the brand" in rows["Carol"][1]
    job = corp.corp.moments.jobs[PlannedPost.objects.get(pk=post.pk).jobid]
    assert job["senders"] == ["bob"]


def test_a_post_cancelled_while_its_job_runs_is_stopped_once_wecom_has_made_it(corp, linked, plan, bob):
    corp.corp.moments.running_polls = 1
    post = plan(bob)
    services.tick()
    post = services.cancel_post(actor=bob, post=PlannedPost.objects.get(pk=post.pk))
    assert post.state == "cancelled" and post.closed_at is None  # the job answered "started"
    services.tick(now=later(60))
    post.refresh_from_db()
    assert post.closed_at is not None and post.moment_id
    assert corp.corp.moments.moments[post.moment_id]["cancelled_at"] is not None
    assert not Task.objects.filter(dedupe_key__startswith=f"calendar:{post.pk}:").exists()
