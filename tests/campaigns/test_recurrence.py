"""Recurring campaigns: the occurrences of a rule (daily, weekly on weekdays, monthly with short
months, in Asia/Shanghai, until a day or a count), a series that never sends itself, a run per
occurrence made by the tick exactly once however many ticks race for it (threads and real
processes), each run snapshotting the segment of its day with its own deliveries, pausing,
resuming and cancelling the series, and a run whose segment is empty or gone recording why while
the series goes on."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.services import campaigns as lifecycle
from campaigns.services import recurrence, sending
from campaigns.services.recurrence import Rule
from members.segments import services as segment_services
from scrm.errors import Conflict, InvalidInput
from tests.campaigns.conftest import make_members

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def rule(frequency="daily", time=dt.time(9, 30), start=dt.date(2027, 1, 1), **kw):
    return Rule(frequency=frequency, time=time, start=start, **kw)


# --- occurrences -----------------------------------------------------------------------------------


def test_daily_occurrences_are_local_times_in_shanghai():
    found = recurrence.occurrences(rule(), after=at(2026, 12, 31, 12), limit=3, tz=SH)
    assert found == [at(2027, 1, 1, 9, 30), at(2027, 1, 2, 9, 30), at(2027, 1, 3, 9, 30)]
    # 09:30 in Shanghai is 01:30 UTC all year round: no daylight saving time there.
    assert {f.astimezone(UTC).time() for f in found} == {dt.time(1, 30)}
    summer = recurrence.next_after(rule(start=dt.date(2027, 7, 1)), at(2027, 7, 1), tz=SH)
    assert summer.astimezone(UTC) == dt.datetime(2027, 7, 1, 1, 30, tzinfo=UTC)


def test_the_next_occurrence_is_strictly_after_the_moment():
    r = rule()
    assert recurrence.next_after(r, at(2027, 1, 5, 9, 30), tz=SH) == at(2027, 1, 6, 9, 30)
    assert recurrence.next_after(r, at(2027, 1, 5, 9, 29), tz=SH) == at(2027, 1, 5, 9, 30)
    # A moment before the start: the start day.
    assert recurrence.next_after(r, at(2026, 6, 1), tz=SH) == at(2027, 1, 1, 9, 30)


def test_weekly_occurrences_fall_on_the_chosen_weekdays():
    r = rule("weekly", weekdays=(0, 2, 4), time=dt.time(20, 0))  # Monday, Wednesday, Friday
    found = recurrence.occurrences(r, after=at(2027, 1, 1), limit=5, tz=SH)  # 2027-01-01 is a Friday
    assert [f.date() for f in found] == [dt.date(2027, 1, 1), dt.date(2027, 1, 4), dt.date(2027, 1, 6),
                                         dt.date(2027, 1, 8), dt.date(2027, 1, 11)]
    assert {f.weekday() for f in found} == {0, 2, 4}
    # 20:00 local on a Friday is 12:00 UTC the same day; 08:00 local on a Monday is Sunday 00:00 UTC.
    assert found[0].astimezone(UTC) == dt.datetime(2027, 1, 1, 12, tzinfo=UTC)
    early = rule("weekly", weekdays=(0,), time=dt.time(7, 0))
    monday = recurrence.next_after(early, at(2027, 1, 1), tz=SH)
    assert monday.astimezone(UTC) == dt.datetime(2027, 1, 3, 23, tzinfo=UTC)


def test_monthly_on_the_31st_sends_on_the_last_day_of_shorter_months():
    r = rule("monthly", day=31, time=dt.time(10, 0), start=dt.date(2027, 1, 1))
    found = recurrence.occurrences(r, after=at(2027, 1, 1), limit=5, tz=SH)
    assert [f.date() for f in found] == [dt.date(2027, 1, 31), dt.date(2027, 2, 28), dt.date(2027, 3, 31),
                                         dt.date(2027, 4, 30), dt.date(2027, 5, 31)]
    leap = rule("monthly", day=30, start=dt.date(2028, 2, 1))
    assert recurrence.next_after(leap, at(2028, 2, 1), tz=SH).date() == dt.date(2028, 2, 29)
    plain = rule("monthly", day=15, start=dt.date(2027, 1, 20))
    assert recurrence.next_after(plain, at(2027, 1, 20), tz=SH).date() == dt.date(2027, 2, 15)


def test_a_series_ends_on_its_last_day_or_after_its_count():
    r = rule(until=dt.date(2027, 1, 3))
    assert len(recurrence.occurrences(r, after=at(2026, 12, 1), limit=10, tz=SH)) == 3
    assert recurrence.next_after(r, at(2027, 1, 3, 10), tz=SH) is None
    counted = rule(count=2)
    assert len(recurrence.occurrences(counted, after=at(2026, 12, 1), limit=10, tz=SH)) == 2
    assert recurrence.next_after(counted, at(2026, 12, 1), done=2, tz=SH) is None


def test_a_rule_with_missing_or_wrong_parts_is_refused_naming_them():
    today = dt.date(2027, 1, 1)
    with pytest.raises(InvalidInput) as refused:
        recurrence.validate(rule("weekly", start=dt.date(2026, 12, 31), until=dt.date(2026, 12, 1), count=0),
                            today=today)
    assert set(refused.value.details) == {"recurrence.weekdays", "recurrence.start", "recurrence.until",
                                          "recurrence.count"}
    with pytest.raises(InvalidInput) as refused:
        recurrence.validate(rule("monthly"), today=today)
    assert "recurrence.day" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        recurrence.validate(rule("hourly"), today=today)
    assert "hourly" in str(refused.value.details["recurrence.frequency"][0])


# --- the series and its runs -----------------------------------------------------------------------


def _today():
    return timezone.localtime(timezone.now()).date()


@pytest.fixture
def series(make_campaign, audience):
    """A daily series over the everyone segment (5 consenting members), approved and sent: it waits
    for its first occurrence."""

    def make(**kw):
        r = Rule(frequency=kw.pop("frequency", "daily"), time=dt.time(9, 0), start=_today(), **kw)
        return make_campaign(name="daily tip", recurrence=r)

    return make


def _due(campaign, minutes_ago=1):
    """Make the series' next occurrence due (as if its time had come)."""
    moment = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Campaign.objects.filter(pk=campaign.pk).update(next_occurrence_at=moment)
    return moment


def test_a_series_never_sends_itself_and_the_tick_makes_one_run_per_occurrence(series, store_a):
    s = series()
    assert s.status == "scheduled" and s.next_occurrence_at > timezone.now() and s.send_month is None
    assert sending.tick().runs == 0  # not due yet
    first = _due(s)
    report = sending.tick()
    assert report.runs == 1 and report.started == 1
    run = Campaign.objects.get(parent=s)
    assert run.occurrence_at == first and run.content == s.content and run.channel == s.channel
    assert run.status == "done" and Delivery.objects.filter(campaign=run).count() == 5
    s.refresh_from_db()
    assert s.runs_created == 1 and s.next_occurrence_at > timezone.now() and s.status == "scheduled"
    assert not Delivery.objects.filter(campaign=s).exists()
    assert sending.tick().runs == 0  # the same occurrence never twice

    # The next day's run snapshots the segment as it is then: a new member gets it, each member once.
    newcomer = make_members(store_a, 1, prefix="new")[0]
    _due(s, minutes_ago=0)
    assert sending.tick().runs == 1
    second = Campaign.objects.filter(parent=s).exclude(pk=run.pk).get()
    assert second.snapshot_id != run.snapshot_id
    assert Delivery.objects.filter(campaign=second).count() == 6
    assert Delivery.objects.filter(campaign=second, member=newcomer).count() == 1
    assert not Delivery.objects.filter(campaign=run, member=newcomer).exists()


def test_a_count_ends_the_series(series):
    s = series(count=2)
    for minutes in (2, 1):
        _due(s, minutes_ago=minutes)
        assert sending.tick().runs == 1
    s.refresh_from_db()
    assert s.status == "done" and s.next_occurrence_at is None and s.runs_created == 2
    _due(s)
    assert sending.tick().runs == 0 and Campaign.objects.filter(parent=s).count() == 2


def test_pausing_and_cancelling_the_series_stop_its_runs(series, alice):
    s = series()
    _due(s)
    lifecycle.pause(campaign=s, actor=alice)
    assert sending.tick().runs == 0
    lifecycle.resume(campaign=s, actor=alice)
    s.refresh_from_db()
    # Missed while paused: not made up; it goes on from its next time.
    assert s.status == "scheduled" and s.next_occurrence_at > timezone.now()
    _due(s)
    assert sending.tick().runs == 1
    lifecycle.cancel(campaign=s, actor=alice)
    s.refresh_from_db()
    assert s.status == "cancelled" and s.next_occurrence_at is None
    Campaign.objects.filter(pk=s.pk).update(next_occurrence_at=timezone.now() - dt.timedelta(minutes=1))
    assert sending.tick().runs == 0 and Campaign.objects.filter(parent=s).count() == 1


def test_a_run_whose_segment_is_empty_or_deleted_records_why_and_the_series_goes_on(make_campaign, alice, audience):
    from members.models import Tag, TagGroup

    tag = Tag.objects.create(group=TagGroup.objects.create(name="无人"), name="nobody")
    nobody = segment_services.create_segment(actor=alice, name="nobody", definition={"tags": {"any": [tag.pk]}})
    s = make_campaign(name="empty", segment=nobody, recurrence=Rule(frequency="daily", time=dt.time(9, 0),
                                                                    start=_today()))
    _due(s)
    sending.tick()
    run = Campaign.objects.get(parent=s)
    assert run.status == "cancelled" and "no members" in run.last_error
    s.refresh_from_db()
    assert s.status == "scheduled" and s.next_occurrence_at > timezone.now()

    nobody.delete()
    _due(s, minutes_ago=0)
    sending.tick()
    gone = Campaign.objects.filter(parent=s).exclude(pk=run.pk).get()
    assert gone.status == "cancelled" and "deleted" in gone.last_error
    s.refresh_from_db()
    assert s.status == "scheduled"


def test_a_series_refuses_a_schedule_and_a_past_start(make_campaign):
    with pytest.raises(InvalidInput) as refused:
        make_campaign(start=False, scheduled_at=timezone.now() + dt.timedelta(hours=1),
                      recurrence=Rule(frequency="daily", time=dt.time(9, 0), start=_today()))
    assert "scheduled_at" in refused.value.details
    with pytest.raises(InvalidInput) as refused:
        make_campaign(start=False, recurrence=Rule(frequency="daily", time=dt.time(9, 0),
                                                   start=_today() - dt.timedelta(days=1)))
    assert "recurrence.start" in refused.value.details


def test_a_run_cannot_be_edited_and_one_occurrence_has_one_run(series, alice):
    s = series()
    _due(s)
    sending.tick()
    run = Campaign.objects.get(parent=s)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(name="again", parent=s, occurrence_at=run.occurrence_at, channel="outbox",
                                content="x")
    Campaign.objects.filter(pk=run.pk).update(status="draft")
    run.refresh_from_db()
    with pytest.raises(Conflict):
        lifecycle.update_campaign(campaign=run, actor=alice, changes={"name": "x"})


# --- exactly once under concurrency ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_racing_threads_make_one_run_per_occurrence(series):
    s = series()
    for round_ in range(3):
        occurrence = _due(s, minutes_ago=3 - round_)
        workers = 8
        barrier = threading.Barrier(workers)
        made, errors = [], []

        def race(barrier=barrier, occurrence=occurrence, made=made, errors=errors):
            try:
                barrier.wait(timeout=10)
                run = recurrence.create_due_run(series_id=s.pk, occurrence=occurrence, now=timezone.now())
                if run is not None:
                    made.append(run.pk)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=race) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors and len(made) == 1
    assert Campaign.objects.filter(parent=s).count() == 3
    s.refresh_from_db()
    assert s.runs_created == 3


SCRIPT = """
import os, sys
sys.path.insert(0, os.environ["ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
import django
django.setup()
from campaigns.services import sending
print("ready", flush=True)
sys.stdin.readline()
report = sending.tick(budget=5)
print(f"runs={report.runs} started={report.started}", flush=True)
"""


def _db_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_ticks_in_several_processes_make_the_due_run_once(series):
    s = series()
    env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL, "ROOT": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for p in procs:
            line = p.stdout.readline().strip()
            assert line == "ready", p.communicate(timeout=30)[1][-2000:]
        _due(s)
        for p in procs:  # all at once
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    answers = [out.strip() for out, _err in outputs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _out, err in outputs]
    assert sorted(answers) == ["runs=0 started=0", "runs=0 started=0", "runs=1 started=1"] or \
        sum(int(a.split()[0].split("=")[1]) for a in answers) == 1, answers
    run = Campaign.objects.get(parent=s)
    assert run.status == "done" and Delivery.objects.filter(campaign=run).count() == 5


def test_a_series_shows_its_runs_and_next_run_in_the_api_and_on_its_page(series, api_client, client, alice):
    s = series()
    _due(s)
    sending.tick()
    run = Campaign.objects.get(parent=s)
    api_client.force_authenticate(alice)
    detail = api_client.get(f"/api/v1/campaigns/{s.pk}/").json()
    assert detail["recurrence"]["frequency"] == "daily" and detail["recurrence"]["time"] == "09:00"
    assert detail["runs_created"] == 1 and detail["next_occurrence_at"] is not None
    runs = api_client.get("/api/v1/campaigns/", {"parent": s.pk}).json()["results"]
    assert [r["id"] for r in runs] == [run.pk] and runs[0]["parent"] == s.pk and runs[0]["recurrence"] is None
    assert runs[0]["counts"]["sent"] == 5
    client.force_login(alice)
    page = client.get(f"/campaigns/{s.pk}/").content.decode()
    assert f'data-testid="run-{run.pk}"' in page and "Next run:" in page and "Every day at 09:00" in page
    assert f'href="/campaigns/{s.pk}/"' in client.get(f"/campaigns/{run.pk}/").content.decode()  # its series
    listed = client.get("/campaigns/", {"parent": s.pk}).content.decode()
    assert f'data-testid="campaign-{run.pk}"' in listed and f'data-testid="campaign-{s.pk}"' not in listed
