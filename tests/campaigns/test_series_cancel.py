"""Cancelling a recurring series stops its runs that are not finished: a run already sending is
cancelled as a run's own cancel would be (what it has not sent yet is recorded as cancelled, what it
sent stays sent), a scheduled run never starts, finished runs stay as they were, all in one
transaction and safe to repeat; the confirm dialog and the API answer say how many runs and pending
deliveries it stops. With a real Celery worker sending a run through a slow provider, the series is
cancelled mid-send: the worker's batch in flight finishes, nothing more goes out, and every
recipient has one message or one recorded reason."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, Delivery, OutboxMessage
from campaigns.services import campaigns as lifecycle
from campaigns.services import recurrence, respect, sending
from campaigns.services.recurrence import Rule
from campaigns.services.sending import TickReport
from tests.campaigns import load, providers


def _today():
    return timezone.localtime(timezone.now()).date()


def _due(series, minutes_ago=1):
    moment = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Campaign.objects.filter(pk=series.pk).update(next_occurrence_at=moment)
    return moment


def _new_run(series, *, start: bool):
    """The series' due run, made as the tick makes it, and (start) fanned out but nothing sent yet."""
    _due(series, minutes_ago=0 if Campaign.objects.filter(parent=series).exists() else 2)
    now = timezone.now()
    assert recurrence.create_due_runs(now=now) == 1
    run = Campaign.objects.filter(parent=series).order_by("-pk").first()
    if start:
        assert lifecycle.start_scheduled(campaign_id=run.pk, now=now)
    run.refresh_from_db()
    return run


def _send_some(run, n):
    """One real batch of `n` of the run's deliveries through its channel (as a tick's claim)."""
    pol = respect.policy()
    claimed, _capped = sending.claim(run, limit=n, now=timezone.now(), pol=pol)
    assert len(claimed) == n
    sending.send_batch(run, claimed, now=timezone.now(), pol=pol, report=TickReport())


@pytest.fixture
def series(make_campaign, audience):
    return make_campaign(name="daily tip", recurrence=Rule(frequency="daily", time=dt.time(9, 0), start=_today()))


def test_cancelling_a_series_stops_its_sending_and_scheduled_runs(series, alice, api_client, client):
    finished = _new_run(series, start=True)
    sending.tick()
    finished.refresh_from_db()
    assert finished.status == "done"
    sending_run = _new_run(series, start=True)
    _send_some(sending_run, 2)  # 2 of its 5 members have it, 3 wait
    assert sending_run.status == "sending"
    waiting = Campaign.objects.create(name="later", parent=series, occurrence_at=timezone.now() + dt.timedelta(days=1),
                                      status="scheduled", scheduled_at=timezone.now() + dt.timedelta(days=1),
                                      segment=series.segment, channel=series.channel, content=series.content)

    # The confirm dialog says what it stops.
    client.force_login(alice)
    page = client.get(f"/campaigns/{series.pk}/").content.decode()
    assert 'data-series-runs="2"' in page and 'data-series-pending="3"' in page
    assert "its 2 runs not finished yet stop too: their 3 deliveries still pending" in page

    api_client.force_authenticate(alice)
    answer = api_client.post(f"/api/v1/campaigns/{series.pk}/cancel/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "cancelled"
    assert answer.json()["stopped"] == {"runs": 2, "deliveries": 3, "group_deliveries": 0}

    statuses = dict(Campaign.objects.filter(parent=series).values_list("pk", "status"))
    assert statuses == {finished.pk: "done", sending_run.pk: "cancelled", waiting.pk: "cancelled"}
    rows = Delivery.objects.filter(campaign=sending_run)
    assert set(rows.values_list("state", "reason")) == {("sent", ""), ("suppressed", "cancelled")}
    assert rows.filter(state="sent").count() == 2 and rows.filter(state="suppressed", reason="cancelled").count() == 3
    assert OutboxMessage.objects.filter(campaign=sending_run).count() == 2  # sent ones stay sent
    assert Delivery.objects.filter(campaign=finished, state="sent").count() == 5  # a finished run is untouched

    # Safe to repeat: nothing more is stopped, the answer says so.
    again = api_client.post(f"/api/v1/campaigns/{series.pk}/cancel/")
    assert again.status_code == 200 and again.json()["stopped"] == {"runs": 0, "deliveries": 0, "group_deliveries": 0}
    Campaign.objects.filter(pk=series.pk).update(next_occurrence_at=timezone.now() - dt.timedelta(minutes=1))
    report = sending.tick()
    assert report.runs == 0 and report.started == 0 and report.sent == 0
    assert OutboxMessage.objects.filter(campaign=sending_run).count() == 2


def test_a_one_off_campaign_answers_it_stopped_no_runs(make_campaign, audience, alice, api_client):
    campaign = make_campaign(name="once", scheduled_at=timezone.now() + dt.timedelta(hours=1))
    api_client.force_authenticate(alice)
    answer = api_client.post(f"/api/v1/campaigns/{campaign.pk}/cancel/").json()
    assert answer["status"] == "cancelled" and answer["stopped"] == {"runs": 0, "deliveries": 0,
                                                                     "group_deliveries": 0}


def test_cancelling_again_stops_the_runs_of_a_series_cancelled_before_its_runs_were(series, alice):
    run = _new_run(series, start=True)
    # As a series cancelled while a run was sending was left before: the series cancelled, its run not.
    Campaign.objects.filter(pk=series.pk).update(status="cancelled", next_occurrence_at=None,
                                                 finished_at=timezone.now())
    campaign, stopped = lifecycle.cancel_counted(campaign=series, actor=alice)
    assert campaign.status == "cancelled" and stopped == lifecycle.Stopped(runs=1, deliveries=5)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert set(Delivery.objects.filter(campaign=run).values_list("state", "reason")) == {("suppressed", "cancelled")}


def test_a_paused_run_and_a_paused_series_stop_too(series, alice):
    run = _new_run(series, start=True)
    lifecycle.pause(campaign=run, actor=alice)
    lifecycle.pause(campaign=series, actor=alice)
    assert lifecycle.stop_preview(series) == lifecycle.Stopped(runs=1, deliveries=5)
    _campaign, stopped = lifecycle.cancel_counted(campaign=series, actor=alice)
    assert stopped.runs == 1 and stopped.deliveries == 5
    run.refresh_from_db()
    assert run.status == "cancelled" and lifecycle.stop_preview(series) == lifecycle.Stopped()


# --- a real Celery worker sending the run ----------------------------------------------------------

MEMBERS = 600


@pytest.mark.django_db(transaction=True)
def test_cancelling_the_series_while_a_celery_worker_sends_its_run():
    from tests.campaigns.test_reliability import Procs, _db_url, _main_db

    providers.register()
    procs = None
    try:
        with connection.cursor() as cursor:
            providers.create_repeats_table(cursor)
            cursor.execute(f"TRUNCATE {providers.REPEATS}")
        load.seed_members(MEMBERS, store_ids=load.stores(2))
        load.checked_policy()
        actor = load.operator()
        from members.segments import services as segment_services

        segment = segment_services.create_segment(actor=actor, name="all series", definition={"all": []})
        series = lifecycle.create_campaign(actor=actor, data=lifecycle.CampaignInput(
            name="每日推荐", segment_id=segment.pk, channel=providers.RecordingOutbox.code, content="{name}，今日推荐",
            recurrence=Rule(frequency="daily", time=dt.time(9, 0), start=_today())))
        lifecycle.approve(campaign=series, actor=actor)
        lifecycle.send(campaign=series, actor=actor)
        run = _new_run(series, start=True)
        assert run.status == "sending"
        total = Delivery.objects.filter(campaign=run).count()
        assert total == MEMBERS

        env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL,
               "PYTHONPATH": str(load.__file__).rsplit("/tests/", 1)[0],
               "SIYU_PROVIDER_PAUSE": "0.1", "SIYU_PROVIDER_BATCH": "20"}
        procs = Procs(env)
        queue = f"siyu-series-{uuid.uuid4().hex[:8]}"
        procs.celery(queue, "w1")
        procs.publisher(queue)
        with contextlib.closing(_main_db()) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                def count(state):
                    cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = %s",
                                   [run.pk, state])
                    return cursor.fetchone()[0]

                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and count("sent") < 40:
                    time.sleep(0.05)
                assert count("sent") >= 40, "the worker never got going"
                _series, stopped = lifecycle.cancel_counted(campaign=series, actor=actor)
                at_cancel = Delivery.objects.filter(campaign=run).values_list("state").order_by()
                states_at_cancel = {s: at_cancel.filter(state=s).count() for s in ("sent", "sending", "pending")}
                assert stopped.runs == 1 and stopped.deliveries > 0
                assert states_at_cancel["pending"] == 0, "the cancel left pending rows behind"
                # The batch in flight finishes; nothing more is claimed. Wait for several ticks.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and count("sending"):
                    time.sleep(0.1)
                time.sleep(1.5)
                found = load.ledger(cursor, run.pk)
        states = found["states"]
        assert found["status"] == "cancelled"
        assert not states.get("pending") and not states.get("sending"), states
        # Sent after the cancel: only what was in the worker's hands then (one batch at most).
        assert states_at_cancel["sent"] <= states["sent"] <= states_at_cancel["sent"] + states_at_cancel["sending"]
        assert found["reasons"].get("cancelled", 0) == stopped.deliveries
        wrong = [w for w in load.problems(found, members=MEMBERS) if not w.startswith("campaign is")]
        assert not wrong, wrong
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {providers.REPEATS}")
            assert cursor.fetchone()[0] == 0
    finally:
        if procs is not None:
            procs.stop_all()
        providers.unregister()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {providers.REPEATS}")
