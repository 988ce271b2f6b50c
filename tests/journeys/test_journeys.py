"""Journeys (SOP): every bad definition refused with where and why, the lifecycle and its versions,
entry per trigger and entry rule, and the tick: each step once, in order, waits in the brand's time
zone, sends through the campaigns' deliveries, tasks to the owner or the pool, branches, goal exits."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, Delivery
from campaigns.services import sending
from journeys.models import (
    Journey,
    JourneyCampaign,
    JourneyRun,
    JourneyRunStep,
    JourneyState,
    Task,
)
from journeys.services import entry, ticking
from journeys.services import journeys as svc
from journeys.services.journeys import JourneyInput, StepInput
from loyalty.orders.models import Order
from members.models import ConsentChannel, ConsentPurpose, Member, MemberTag, Tag, TagGroup
from members.services import consent
from scrm import events
from scrm.actors import SystemActor
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import Event

pytestmark = pytest.mark.django_db
SYSTEM = SystemActor("rule:test")


def allow(*members, channel=ConsentChannel.ALL):
    for member in members:
        for ch in (channel, ConsentChannel.WECOM):
            consent.set_consent(member=member, purpose=ConsentPurpose.MARKETING, channel=ch, granted=True,
                                actor=SYSTEM)


def _tag(name="新客") -> Tag:
    group = TagGroup.objects.get_or_create(name="journeys")[0]
    return Tag.objects.create(name=name, group=group)


def _send(text="你好 {name}") -> StepInput:
    return StepInput("send", {"channel": "outbox", "content": text})


def _data(steps, **fields) -> JourneyInput:
    fields.setdefault("trigger", "birthday")
    return JourneyInput(name=fields.pop("name", "J"), steps=steps, **fields)


def _live(actor, steps, **fields) -> Journey:
    journey = svc.create_journey(actor=actor, data=_data(steps, **fields))
    return svc.activate(actor=actor, journey=journey)


def _tick(now=None, **kwargs):
    return ticking.tick(now_fn=lambda: now or timezone.now() + dt.timedelta(minutes=1), **kwargs)


def _details(exc) -> dict:
    return exc.value.details


# --- bad input ---------------------------------------------------------------------------------------------

def test_no_steps_zero_wait_and_loops_are_refused_with_where(alice):
    with pytest.raises(InvalidInput) as exc:
        svc.create_journey(actor=alice, data=_data([]))
    assert "steps" in _details(exc)
    steps = [StepInput("wait", {"mode": "duration", "days": 0}),
             StepInput("wait", {"mode": "duration", "hours": -3}),
             StepInput("wait", {"mode": "day_after_trigger", "days": 0}),
             StepInput("branch", {"condition": "ordered", "goto": 4}),
             StepInput("branch", {"condition": "ordered", "goto": 2}),
             StepInput("branch", {"condition": "ordered", "goto": 99})]
    with pytest.raises(InvalidInput) as exc:
        svc.create_journey(actor=alice, data=_data(steps))
    found = _details(exc)["steps"]
    assert set(found) == {"1", "2", "3", "4", "5", "6"}
    assert "loop" in found["4"]["goto"][0] and "loop" in found["5"]["goto"][0]
    assert "no step 99" in found["6"]["goto"][0]
    assert Journey.objects.count() == 0  # nothing half-written


def test_unknown_channel_bad_text_and_a_staff_member_who_left(alice, carol, store_a):
    carol.is_active = False
    carol.save()
    steps = [StepInput("send", {"channel": "pigeon", "content": "x"}), StepInput("send", {"channel": "outbox"}),
             StepInput("task", {"kind": "follow_up", "assignee": carol.pk})]
    with pytest.raises(InvalidInput) as exc:
        svc.create_journey(actor=alice, data=_data(steps, store=store_a))
    found = _details(exc)["steps"]
    assert "pigeon" in found["1"]["channel"][0]
    assert "content" in found["2"]
    assert "has left" in found["3"]["assignee"][0]


def test_trigger_parameters_are_checked(alice):
    with pytest.raises(InvalidInput) as exc:
        svc.create_journey(actor=alice, data=_data([_send()], trigger="tag_added", trigger_params={"tag": 999}))
    assert "tag" in _details(exc)["trigger_params"]
    with pytest.raises(InvalidInput) as exc:
        svc.create_journey(actor=alice, data=_data([_send()], entry_rule="per_period", entry_period="decade"))
    assert "entry_period" in _details(exc)


def test_store_roles(bob, carol, alice, store_a, store_b):
    mine = svc.create_journey(actor=bob, data=_data([_send()]))
    assert mine.store_id == store_a.pk  # a manager's journey is their store's
    brand = svc.create_journey(actor=alice, data=_data([_send()]))
    with pytest.raises(Forbidden):
        svc.activate(actor=bob, journey=brand)  # brand-wide: read-only for a store manager
    with pytest.raises(Forbidden):
        svc.create_journey(actor=carol, data=_data([_send()]))  # clerks read
    other = svc.create_journey(actor=alice, data=_data([_send()], store=store_b))
    with pytest.raises(NotInScope):
        svc.pause(actor=bob, journey=other)


# --- lifecycle and versions --------------------------------------------------------------------------------

def test_editing_a_live_journey_writes_a_version_and_members_inside_keep_theirs(alice, members):
    a, _b = members
    Member.objects.filter(pk=a[0].pk).update(birthday=timezone.localdate())
    allow(a[0])
    journey = _live(alice, [StepInput("wait", {"mode": "duration", "days": 1}), _send()])
    _tick()
    run = JourneyRun.objects.get(journey=journey)
    assert run.version == 1
    svc.save_journey(actor=alice, journey=journey, data=_data([_send("新版 {name}")]))
    journey.refresh_from_db()
    assert journey.version == 2 and svc.inside_by_version(journey) == {1: 1}
    run.refresh_from_db()
    assert run.version == 1 and run.step.version == 1
    # Saving the same steps again writes no new version.
    svc.save_journey(actor=alice, journey=journey, data=_data([_send("新版 {name}")]))
    journey.refresh_from_db()
    assert journey.version == 2


def test_pause_end_and_repeats(alice, members):
    journey = _live(alice, [_send()])
    assert svc.activate(actor=alice, journey=journey).state == JourneyState.LIVE  # again: nothing changes
    assert svc.pause(actor=alice, journey=journey).state == JourneyState.PAUSED
    assert svc.pause(actor=alice, journey=journey).state == JourneyState.PAUSED
    assert svc.end(actor=alice, journey=journey).state == JourneyState.ENDED
    with pytest.raises(Conflict):
        svc.activate(actor=alice, journey=journey)


# --- entry -------------------------------------------------------------------------------------------------

def test_tag_added_enters_from_the_event_log_once(alice, members):
    a, b = members
    tag = _tag()
    _live(alice, [StepInput("wait", {"mode": "duration", "days": 3})], trigger="tag_added",
                    trigger_params={"tag": tag.pk})
    other = _tag("老客")
    for member, t in ((a[0], tag), (a[1], other), (b[0], tag), (a[0], tag)):
        events.emit("member.tag_added", member_id=member.pk, store_id=member.home_store_id,
                    data={"tag": {"id": t.pk, "name": t.name}})
    now = timezone.now() + dt.timedelta(minutes=1)
    assert entry.run_entries(now=now) == 2
    assert set(JourneyRun.objects.values_list("member_id", flat=True)) == {a[0].pk, b[0].pk}
    assert Event.objects.filter(type="journey.entered").count() == 2
    assert entry.run_entries(now=now) == 0  # the cursor moved: nothing again
    events.emit("member.tag_added", member_id=a[0].pk, store_id=a[0].home_store_id, data={"tag": {"id": tag.pk}})
    assert entry.run_entries(now=now + dt.timedelta(minutes=1)) == 0  # once per member


def test_events_younger_than_the_lag_wait_for_the_next_pass(alice, members):
    a, _b = members
    tag = _tag()
    _live(alice, [_send()], trigger="tag_added", trigger_params={"tag": tag.pk})
    events.emit("member.tag_added", member_id=a[0].pk, store_id=a[0].home_store_id, data={"tag": {"id": tag.pk}})
    assert entry.run_entries(now=timezone.now()) == 0
    assert entry.run_entries(now=timezone.now() + dt.timedelta(minutes=1)) == 1


def test_a_store_journey_enters_its_store_only_and_birthdays_per_year(bob, members):
    a, b = members
    today = timezone.localdate()
    Member.objects.filter(pk__in=[a[0].pk, b[0].pk]).update(birthday=today.replace(year=1990))
    journey = _live(bob, [_send()], entry_rule="per_period", entry_period="year")
    now = timezone.now()
    assert entry.run_entries(now=now) == 1
    run = JourneyRun.objects.get(journey=journey)
    assert run.member_id == a[0].pk and run.period_key == str(timezone.localtime(now).year)
    assert entry.run_entries(now=now) == 0  # once a brand day


def test_erased_members_do_not_enter(alice, members):
    a, _b = members
    today = timezone.localdate()
    Member.objects.filter(pk__in=[a[0].pk, a[1].pk]).update(birthday=today.replace(year=1990))
    Member.objects.filter(pk=a[1].pk).update(erased_at=timezone.now())
    _live(alice, [_send()])
    assert entry.run_entries() == 1


# --- the tick ----------------------------------------------------------------------------------------------

def _birthday_journey(actor, members, steps, **fields):
    a, _b = members
    Member.objects.filter(pk=a[0].pk).update(birthday=timezone.localdate().replace(year=1990))
    allow(a[0])
    return _live(actor, steps, **fields), a[0]


def test_a_send_step_writes_one_delivery_the_engine_sends(alice, members):
    journey, member = _birthday_journey(alice, members, [_send(), _send("第二条")])
    report = _tick()
    assert report.entered == 1 and report.queued == 2 and report.done == 1
    links = JourneyCampaign.objects.filter(step__journey=journey)
    assert links.count() == 2
    deliveries = Delivery.objects.filter(campaign__in=[c.campaign_id for c in links])
    assert deliveries.count() == 2 and set(deliveries.values_list("state", flat=True)) == {"pending"}
    sending.tick(budget=5, now_fn=lambda: timezone.now() + dt.timedelta(minutes=2))
    # The send policy's daily cap (1) lets one through today: the caps are the campaigns'.
    assert sorted(Delivery.objects.values_list("state", "reason")) == [("sent", ""), ("suppressed", "cap_reached")]
    _tick()
    assert Delivery.objects.count() == 2  # a second tick repeats nothing
    run = JourneyRun.objects.get()
    assert run.state == "done" and run.reason == "completed"
    assert Event.objects.filter(type="journey.exited", member_id=member.pk).count() == 1


def test_a_member_the_channel_cannot_reach_is_a_recorded_skip(alice, members):
    a, _b = members
    Member.objects.filter(pk=a[0].pk).update(phone="")
    journey, _member = _birthday_journey(alice, members, [_send()])
    _tick()
    history = JourneyRunStep.objects.get()
    assert (history.outcome, history.reason) == ("skipped", "no_identity")
    assert JourneyRun.objects.get().state == "done"


def test_waits_are_kept_in_the_database_and_resume_when_due(alice, members):
    journey, member = _birthday_journey(alice, members, [
        StepInput("wait", {"mode": "day_after_trigger", "days": 2, "at": "10:00"}), _send()])
    _tick()
    run = JourneyRun.objects.get()
    local = timezone.localtime(run.next_due_at)
    assert local.date() == timezone.localdate() + dt.timedelta(days=2) and local.time() == dt.time(10, 0)
    assert _tick().queued == 0  # not due yet
    later = run.next_due_at + dt.timedelta(seconds=1)
    assert _tick(later).queued == 1
    assert JourneyRun.objects.get().state == "done"


def test_weekday_wait(alice):
    now = timezone.make_aware(dt.datetime(2026, 12, 3, 12, 0))  # a Thursday
    assert timezone.localtime(ticking.wake_at({"mode": "weekday", "weekday": 3, "at": "09:00"}, now)) == \
        timezone.make_aware(dt.datetime(2026, 12, 10, 9, 0))
    assert timezone.localtime(ticking.wake_at({"mode": "weekday", "weekday": 4, "at": "09:00"}, now)) == \
        timezone.make_aware(dt.datetime(2026, 12, 4, 9, 0))


def test_tasks_go_to_the_owner_or_the_pool_when_the_named_staff_left(alice, bob, members, carol, store_a):
    journey, member = _birthday_journey(alice, members, [
        StepInput("task", {"kind": "birthday", "assignee": bob.pk}), StepInput("task", {"kind": "follow_up"})],
        store=store_a)
    bob.is_active = False
    bob.save()
    _tick()
    tasks = {t.kind: t for t in Task.objects.filter(member=member)}
    assert tasks["birthday"].assignee_id == carol.pk  # the named manager left: the member's owner takes it
    assert tasks["follow_up"].assignee_id == carol.pk
    reasons = dict(JourneyRunStep.objects.values_list("step__position", "reason"))
    assert reasons == {1: "assignee_left", 2: ""}
    _tick()
    assert Task.objects.filter(member=member).count() == 2  # deduplicated per run and step


def test_branch_and_goal(alice, members):
    tag = _tag("VIP")
    journey, member = _birthday_journey(alice, members, [
        StepInput("branch", {"condition": "tag", "tag": tag.pk, "goto": 3}),
        StepInput("exit", {}),
        StepInput("wait", {"mode": "duration", "days": 1}),
        _send()], goal="ordered")
    other = members[0][1]
    Member.objects.filter(pk=other.pk).update(birthday=timezone.localdate().replace(year=1991))
    MemberTag.objects.create(member=member, tag=tag)
    _tick()
    runs = {r.member_id: r for r in JourneyRun.objects.all()}
    assert runs[other.pk].state == "exited" and runs[other.pk].reason == "exit_step"
    assert runs[member.pk].state == "active" and runs[member.pk].step.position == 3
    Order.objects.create(channel="pos", external_id="J1", member=member, store=member.home_store,
                         total_amount=100, placed_at=runs[member.pk].entered_at + dt.timedelta(seconds=1))
    _tick(runs[member.pk].next_due_at + dt.timedelta(seconds=1))
    run = JourneyRun.objects.get(pk=runs[member.pk].pk)
    assert run.state == "exited" and run.reason == "goal" and run.converted_at is not None
    assert not Delivery.objects.exists()


def test_a_paused_journey_moves_nobody(alice, members):
    journey, _member = _birthday_journey(alice, members, [StepInput("wait", {"mode": "duration", "minutes": 1}),
                                                           _send()])
    _tick()
    svc.pause(actor=alice, journey=journey)
    assert _tick(timezone.now() + dt.timedelta(hours=1)).queued == 0
    svc.activate(actor=alice, journey=journey)
    assert _tick(timezone.now() + dt.timedelta(hours=1)).queued == 1


def test_ending_exits_everyone_inside(alice, members):
    journey, member = _birthday_journey(alice, members, [StepInput("wait", {"mode": "duration", "days": 3})])
    _tick()
    svc.end(actor=alice, journey=journey)
    run = JourneyRun.objects.get()
    assert (run.state, run.reason, run.next_due_at) == ("exited", "journey_ended", None)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_repeat_or_skip_a_step(alice, store_a, carol):
    people = [Member.objects.create(name=f"m{i}", phone=f"+8613700{i:06d}", home_store=store_a, owner=carol,
                                    birthday=timezone.localdate().replace(year=1990)) for i in range(60)]
    allow(*people)
    journey = _live(alice, [_send(), StepInput("task", {"kind": "birthday"}), _send("二")])
    entry.run_entries()
    now = timezone.now() + dt.timedelta(minutes=1)
    errors = []

    def work():
        try:
            while ticking.advance_batch(now=now, limit=7):
                pass
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert JourneyRun.objects.filter(journey=journey, state="done").count() == 60
    assert JourneyRunStep.objects.count() == 180
    assert Delivery.objects.count() == 120 and Task.objects.count() == 60
    assert Campaign.objects.count() == 2


def test_event_triggers_with_their_parameters(alice, members, carol):
    from members.models import StaffRelation

    a, b = members
    StaffRelation.objects.create(member=a[0], staff=carol, state="store_qr_1")
    joined = _live(alice, [_send()], trigger="joined", trigger_params={"channel_code": "store_qr_1"})
    anyone = _live(alice, [_send()], trigger="joined")
    tier = _live(alice, [_send()], trigger="tier_changed", trigger_params={"rank": 2})
    first = _live(alice, [_send()], trigger="first_order")
    attended = _live(alice, [_send()], trigger="event_attended", trigger_params={"event": 7})
    for m in (a[0], a[1]):
        events.emit("member.joined", member_id=m.pk, store_id=m.home_store_id, data={"source": "store_qr"})
    events.emit("member.tier_changed", member_id=a[0].pk, data={"from": {"rank": 1}, "to": {"rank": 2}})
    events.emit("member.tier_changed", member_id=a[1].pk, data={"from": {"rank": 2}, "to": {"rank": 3}})
    one = Order.objects.create(channel="pos", external_id="F1", member=b[0], store=b[0].home_store, total_amount=1,
                               placed_at=timezone.now())
    events.emit("order.linked", member_id=b[0].pk, data={"order": {"id": one.pk}})
    two = Order.objects.create(channel="pos", external_id="F2", member=b[0], store=b[0].home_store, total_amount=1,
                               placed_at=timezone.now() + dt.timedelta(seconds=1))
    events.emit("order.linked", member_id=b[0].pk, data={"order": {"id": two.pk}})
    events.emit("event.checked_in", member_id=b[1].pk, data={"event": {"id": 7}})
    events.emit("event.checked_in", member_id=a[2].pk, data={"event": {"id": 8}})
    entry.run_entries(now=timezone.now() + dt.timedelta(minutes=1))

    def who(journey):
        return set(JourneyRun.objects.filter(journey=journey).values_list("member_id", flat=True))

    assert who(joined) == {a[0].pk} and who(anyone) == {a[0].pk, a[1].pk}
    assert who(tier) == {a[0].pk}  # reached rank 2 from below
    assert who(first) == {b[0].pk}
    assert who(attended) == {b[1].pk}


def test_one_claim_carries_a_run_through_its_steps_until_it_waits(alice, bob, members, store_a):
    """A run goes on from step to step in the batch that claimed it: send, branch, task, then it waits;
    its history is in step order, and two journeys' send steps (the brand's and a store's) are written
    together, each with its own store's rule."""
    tag = _tag("VIP")
    a, b = members
    member, elsewhere = a[0], b[0]
    Member.objects.filter(pk__in=[member.pk, elsewhere.pk]).update(birthday=timezone.localdate().replace(year=1990))
    allow(member, elsewhere)
    MemberTag.objects.create(member=member, tag=tag)
    brand = _live(alice, [_send(), StepInput("branch", {"condition": "tag", "tag": tag.pk, "goto": 4}),
                          StepInput("exit", {}), StepInput("task", {"kind": "birthday"}),
                          StepInput("wait", {"mode": "duration", "days": 2}), _send("后来")], name="品牌")
    store = _live(bob, [_send("门店")], name="门店", store=store_a)
    entry.run_entries()
    now = timezone.now() + dt.timedelta(minutes=1)
    assert ticking.advance_batch(now=now) == 3  # claimed once: the member's two runs, the other member's one
    assert ticking.advance_batch(now=now) == 0  # nobody due again in this tick
    run = JourneyRun.objects.get(journey=brand, member=member)
    assert run.state == "active" and run.step.position == 5 and run.next_due_at > now + dt.timedelta(days=1)
    history = JourneyRunStep.objects.filter(run=run).order_by("id")
    assert [(h.step.position, h.outcome) for h in history] == [(1, "queued"), (2, "yes"), (4, "task"),
                                                                (5, "waited")]
    assert Task.objects.get(member=member).kind == "birthday"
    assert JourneyRun.objects.get(journey=brand, member=elsewhere).reason == "exit_step"  # not tagged: exits
    assert not JourneyRun.objects.filter(journey=store, member=elsewhere).exists()  # a store journey: its own
    deliveries = {(d.campaign.name.split(" · ")[0], d.member_id): d.state
                  for d in Delivery.objects.select_related("campaign")}
    assert deliveries == {("品牌", member.pk): "pending", ("品牌", elsewhere.pk): "pending",
                          ("门店", member.pk): "pending"}
