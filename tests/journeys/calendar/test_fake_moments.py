"""The local WeCom server's Moments over HTTP, through the client: the job's states, the result with
invalid senders and tags, publish status paged, cancel, the corp's list, and WeCom's errors."""

from __future__ import annotations

import pytest

from wecom.client import errors, get_client, moments

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(corp):
    return get_client()


def test_a_job_runs_then_creates_the_moment_with_its_invalid_senders_and_tags(corp, client):
    corp.corp.moments.running_polls = 2
    tag = next(iter(corp.corp.tag_index))
    jobid = moments.add_task(moments.body(text="新品", link_url="https://example.com/a", senders=["carol", "nobody"],
                                          tag_ids=[tag, "etNOPE"]), client=client)
    assert [moments.task_result(jobid, client=client).status for _ in range(2)] == [1, 2]
    done = moments.task_result(jobid, client=client)
    assert done.done and done.errcode == 0 and done.moment_id
    assert done.invalid_senders == ("nobody",) and done.invalid_tags == ("etNOPE",)
    assert moments.task_result(jobid, client=client) == done  # later polls answer the same
    assert list(moments.publish_status(done.moment_id, client=client)) == [("carol", False)]
    corp.corp.moments.publish(done.moment_id, "carol")
    assert list(moments.publish_status(done.moment_id, client=client)) == [("carol", True)]
    moments.cancel(done.moment_id, client=client)
    listed = list(moments.list_moments(start_time=0, end_time=30 * 86400, client=client))
    assert listed == [] or all("moment_id" in row for row in listed)


def test_every_sender_invalid_fails_the_job_and_bad_requests_are_refused(corp, client):
    jobid = moments.add_task(moments.body(text="x", senders=["ghost"]), client=client)
    result = moments.task_result(jobid, client=client)
    assert result.done and result.errcode == 40003 and not result.moment_id and result.invalid_senders == ("ghost",)
    with pytest.raises(errors.InvalidRequest):
        moments.add_task({}, client=client)  # no text, no attachment
    with pytest.raises(errors.InvalidRequest):
        moments.add_task({"text": {"content": "x"}, "attachments": [{"msgtype": "link", "link": {}}]}, client=client)
    with pytest.raises(errors.InvalidRequest):
        moments.task_result("no-such-job", client=client)
    with pytest.raises(errors.InvalidRequest):
        list(moments.list_moments(start_time=0, end_time=40 * 86400, client=client))  # over 30 days


def test_publish_share_and_delay_decide_who_has_posted(corp, client):
    corp.corp.moments.publish_share = 1.0
    jobid = moments.add_task(moments.body(text="全员"), client=client)  # no senders: every staff member
    moment_id = moments.task_result(jobid, client=client).moment_id
    assert dict(moments.publish_status(moment_id, client=client)) == dict.fromkeys(corp.corp.staff, True)
