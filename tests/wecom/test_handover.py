"""Handovers against the local WeCom server: 100 customers a call, statuses as the server reports
them (done, refused, receiver full), twice in 90 days is a limit, concurrent runs send nobody twice,
an unknown outcome is settled by reading transfer_result back, a rate limit pauses with the rest
untouched, the member-centre relation moves on done; scoping and validation of who may hand over
whom."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from members.models import Member, StaffRelation
from scrm.errors import Forbidden, InvalidInput, NotInScope
from scrm.models import Role, User
from wecom.client import get_client
from wecom.models import (
    Handover,
    HandoverItem,
    HandoverKind,
    HandoverStatus,
    ItemStatus,
    StaffStatus,
    WecomContact,
    WecomFollow,
    WecomStaff,
)
from wecom.services import handover as service

pytestmark = pytest.mark.django_db

STAFF = ["carol", "erin", "dave"]
TRANSFER_CALL = "externalcontact/transfer_customer"
FAKE_STATUS = {1: ItemStatus.DONE, 3: ItemStatus.REFUSED, 4: ItemStatus.RECEIVER_FULL}


@pytest.fixture
def erin(store_a):
    user = User.objects.create(username="erin", role=Role.STORE_STAFF, store=store_a, display_name="Erin")
    return user


@pytest.fixture
def staff(carol, erin, dave, store_a, store_b):
    return {
        "carol": WecomStaff.objects.create(userid="carol", name="Carol", user=carol, store=store_a),
        "erin": WecomStaff.objects.create(userid="erin", name="Erin", user=erin, store=store_a),
        "dave": WecomStaff.objects.create(userid="dave", name="Dave", user=dave, store=store_b),
    }


def seed(corp, wecom_staff: WecomStaff, count: int | None = None) -> list[WecomContact]:
    """The staff member's contacts in the local server, as a contact sync would have written them:
    a member each (owned by the staff member), the relation, the contact and the follow."""
    user, store = wecom_staff.user, wecom_staff.store
    indices = corp.contacts_of(wecom_staff.userid)[:count]
    members = Member.objects.bulk_create(
        [Member(name=f"客户{i}", home_store=store, owner=user) for i in indices])
    relations = StaffRelation.objects.bulk_create(
        [StaffRelation(member=m, staff=user, store=store, is_owner=True) for m in members])
    contacts = WecomContact.objects.bulk_create([WecomContact(external_userid=corp.external_userid(i), member=m)
                                                 for i, m in zip(indices, members, strict=True)])
    WecomFollow.objects.bulk_create(
        [WecomFollow(contact=c, staff=wecom_staff, relation=r) for c, r in zip(contacts, relations, strict=True)])
    return contacts


def transfer_calls(server) -> int:
    return server.calls(TRANSFER_CALL)


def records(server, external_userid: str) -> list[dict]:
    corp = server.corp
    return corp.transfers.get(corp.index_of(external_userid), [])


def start(actor, leaver, receiver, **kwargs) -> Handover:
    kwargs.setdefault("kind", HandoverKind.ON_JOB)
    return service.create_handover(actor=actor, request=service.HandoverRequest(
        from_staff=leaver.pk, to_staff=receiver.pk, **kwargs))


def statuses(handover) -> dict[str, int]:
    return {s["status"]: s["count"] for s in service.status_counts(handover) if s["count"]}


def test_250_customers_go_in_3_calls_and_end_as_the_server_reports(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=250, shared_ratio=0, transfer_delay=0,
                       transfer_refused=0.15, transfer_full=0.15)
    contacts = seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"], message="您好，我是新的顾问 Erin")
    assert handover.items.count() == 250 and statuses(handover) == {"queued": 250}

    result = service.send_queued(handover_id=handover.pk)
    assert (result.sent, result.calls, result.retry_after) == (250, 3, None)
    assert transfer_calls(server) == 3
    assert statuses(handover) == {"waiting": 250}
    assert all(len(records(server, c.external_userid)) == 1 for c in contacts)

    counts = service.poll_results(handover_id=handover.pk)
    assert sum(counts.values()) == 250
    for item in HandoverItem.objects.filter(handover=handover).select_related("contact"):
        assert item.status == FAKE_STATUS[records(server, item.contact.external_userid)[-1]["status"]]
    assert {ItemStatus.DONE, ItemStatus.REFUSED, ItemStatus.RECEIVER_FULL} <= set(counts)
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.DONE and handover.finished_at is not None

    # Done: the receiver follows and owns the member, the leaver's relation ended; otherwise unchanged.
    carol, erin = staff["carol"].user, staff["erin"].user
    for item in HandoverItem.objects.filter(handover=handover).select_related("contact__member"):
        member = item.contact.member
        if item.status == ItemStatus.DONE:
            assert member.owner_id == erin.pk
            assert StaffRelation.objects.get(member=member, staff=erin).is_owner
            assert StaffRelation.objects.get(member=member, staff=carol).staff_deleted_at is not None
            assert WecomFollow.objects.get(contact=item.contact, staff=staff["erin"]).deleted_at is None
        else:
            assert member.owner_id == carol.pk
            assert not StaffRelation.objects.filter(member=member, staff=erin).exists()
    # Polling again changes nothing and moves nobody twice.
    assert service.poll_results(handover_id=handover.pk) == {}


def test_a_customer_handed_over_twice_in_90_days_is_a_limit(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, transfer_delay=0,
                       transfer_refused=0, transfer_full=0)
    seed(server.corp, staff["carol"])
    for leaver, receiver in (("carol", "erin"), ("erin", "carol")):
        handover = start(alice, staff[leaver], staff[receiver])
        service.send_queued(handover_id=handover.pk)
        service.poll_results(handover_id=handover.pk)
        assert statuses(handover) == {"done": 3}
    third = start(alice, staff["carol"], staff["erin"])
    service.send_queued(handover_id=third.pk)
    assert statuses(third) == {"limit": 3}
    assert set(third.items.values_list("errcode", flat=True)) == {40128}
    third.refresh_from_db()
    assert third.status == HandoverStatus.DONE  # nothing left to wait for


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_nobody_twice(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=250, shared_ratio=0, transfer_delay=0)
    server.set_limits({"per_minute": 10_000, "concurrency": 50, "latency": 0.2})
    contacts = seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    results, errors = [], []

    def run():
        try:
            results.append(service.send_queued(handover_id=handover.pk))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(r.sent for r in results) == 250 and sum(r.calls for r in results) == 3
    assert transfer_calls(server) == 3
    assert all(len(records(server, c.external_userid)) == 1 for c in contacts)
    assert statuses(handover) == {"waiting": 250}


def test_an_unknown_outcome_is_read_back_not_resent(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=150, shared_ratio=0, transfer_delay=3600)
    contacts = seed(server.corp, staff["carol"])
    handover = Handover.objects.select_related("from_staff", "to_staff").get(
        pk=start(alice, staff["carol"], staff["erin"]).pk)
    # A worker claimed a batch and WeCom took it, but the answer never came back (timeout)...
    sent = service._claim(handover.pk)
    get_client().post(TRANSFER_CALL, service._body(handover, [uid for _id, uid in sent]))
    # ...and another claimed a batch and died before calling.
    lost = service._claim(handover.pk)
    assert len(sent) == 100 and len(lost) == 50
    HandoverItem.objects.filter(handover=handover).update(sent_at=timezone.now() - timedelta(minutes=5))

    result = service.send_queued(handover_id=handover.pk)
    assert result.sent == 50 and result.calls == 1  # only the batch WeCom never saw
    assert transfer_calls(server) == 2
    assert all(len(records(server, c.external_userid)) == 1 for c in contacts)
    assert statuses(handover) == {"waiting": 150}


def test_a_claim_in_flight_is_left_alone(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=5, shared_ratio=0)
    seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    service._claim(handover.pk)  # another worker's call is under way right now
    assert service.send_queued(handover_id=handover.pk).sent == 0
    assert transfer_calls(server) == 0
    assert statuses(handover) == {"queued": 5}


def test_rate_limited_pauses_and_leaves_the_rest_queued(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=250, shared_ratio=0)
    seed(server.corp, staff["carol"])
    server.set_limits({"per_minute": 1, "concurrency": 50})
    handover = start(alice, staff["carol"], staff["erin"])
    result = service.send_queued(handover_id=handover.pk)
    assert result.retry_after is not None and result.retry_after > 0
    assert result.sent == 100
    assert statuses(handover) == {"waiting": 100, "queued": 150}
    assert not HandoverItem.objects.filter(handover=handover, status="queued", sent_at__isnull=False).exists()
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.RUNNING


def test_transfer_fail_callback_updates_the_item(make_corp, alice, staff):
    from wecom.models import CallbackEvent

    server = make_corp(staff=STAFF, contacts_per_staff=2, shared_ratio=0, transfer_delay=3600)
    contacts = seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    service.send_queued(handover_id=handover.pk)
    for contact, reason in zip(contacts, ("customer_refused", "customer_limit_exceed"), strict=True):
        event = CallbackEvent(digest=contact.external_userid, event="change_external_contact",
                              change_type="transfer_fail",
                              payload={"UserID": "erin", "ExternalUserID": contact.external_userid,
                                       "FailReason": reason})
        service.on_transfer_fail(event)
        service.on_transfer_fail(event)  # WeCom retries: no harm
    assert statuses(handover) == {"refused": 1, "receiver_full": 1}
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.DONE


def test_cancel_the_rest_stops_what_was_not_sent(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=5, shared_ratio=0)
    seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    assert service.cancel_queued(handover=handover, actor=alice) == 5
    service.finish_if_complete(handover_id=handover.pk)
    assert service.send_queued(handover_id=handover.pk).sent == 0
    assert transfer_calls(server) == 0
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.CANCELLED and statuses(handover) == {"cancelled": 5}


def test_a_subset_and_customers_already_in_a_handover(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=4, shared_ratio=0)
    contacts = seed(server.corp, staff["carol"])
    first = start(alice, staff["carol"], staff["erin"], external_userids=[contacts[0].external_userid])
    assert list(first.items.values_list("contact", flat=True)) == [contacts[0].pk]
    second = start(alice, staff["carol"], staff["erin"])
    assert second.items.count() == 3  # the first's customer is already on its way
    with pytest.raises(InvalidInput):
        start(alice, staff["carol"], staff["erin"], external_userids=[contacts[0].external_userid])


def test_store_manager_hands_over_only_their_stores_staff(make_corp, bob, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=2, shared_ratio=0)
    seed(server.corp, staff["dave"])
    seed(server.corp, staff["carol"])
    with pytest.raises(NotInScope):
        start(bob, staff["dave"], staff["erin"])
    with pytest.raises(NotInScope):
        start(bob, staff["carol"], staff["dave"])  # on_job: both in the manager's store
    handover = start(bob, staff["carol"], staff["erin"])
    assert handover.store_id == staff["carol"].store_id


def test_clerks_may_not_hand_over(carol, staff):
    with pytest.raises(Forbidden):
        start(carol, staff["carol"], staff["erin"])


@pytest.mark.parametrize("change, field", [
    ({"to_staff": "carol"}, "to_staff"),
    ({"receiver_status": StaffStatus.RESIGNED}, "to_staff"),
    ({"receiver_unlinked": True}, "to_staff"),
    ({"message": "好" * 201}, "message"),
    ({"kind": HandoverKind.RESIGNED}, "kind"),
    ({"kind": "sideways"}, "kind"),
    ({"external_userids": "wm1"}, "external_userids"),
])
def test_bad_requests_are_refused_with_the_field(alice, staff, change, field):
    receiver = staff["erin"]
    if change.pop("receiver_status", None):
        WecomStaff.objects.filter(pk=receiver.pk).update(status=StaffStatus.RESIGNED)
    if change.pop("receiver_unlinked", None):
        WecomStaff.objects.filter(pk=receiver.pk).update(user=None)
    kwargs = {"kind": HandoverKind.ON_JOB, "from_staff": staff["carol"].pk, "to_staff": receiver.pk, **change}
    if kwargs["to_staff"] == "carol":
        kwargs["to_staff"] = staff["carol"].pk
    with pytest.raises(InvalidInput) as exc:
        service.create_handover(actor=alice, request=service.HandoverRequest(**kwargs))
    assert field in exc.value.details
    assert not Handover.objects.exists()


def test_resigned_handover_takes_no_message_and_uses_the_resigned_api(make_corp, alice, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, transfer_delay=0,
                       transfer_refused=0, transfer_full=0)
    seed(server.corp, staff["carol"])
    WecomStaff.objects.filter(pk=staff["carol"].pk).update(status=StaffStatus.RESIGNED)
    with pytest.raises(InvalidInput) as exc:
        start(alice, staff["carol"], staff["erin"], kind=HandoverKind.RESIGNED, message="再见")
    assert "message" in exc.value.details
    handover = start(alice, staff["carol"], staff["erin"], kind=HandoverKind.RESIGNED)
    service.send_queued(handover_id=handover.pk)
    service.poll_results(handover_id=handover.pk)
    assert statuses(handover) == {"done": 3}
    assert all(r["resigned"] for recs in server.corp.transfers.values() for r in recs)


def test_the_periodic_task_sends_and_polls(make_corp, alice, staff):
    from wecom.tasks import handovers as tasks

    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, transfer_delay=0,
                       transfer_refused=0, transfer_full=0)
    seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    assert tasks.poll_handovers() == 1  # sent (the outbox), then read back
    assert statuses(handover) == {"done": 3}
    assert tasks.poll_handovers() == 0


def test_demo_seed_starts_one_handover_once(make_corp, staff):
    server = make_corp(staff=STAFF, contacts_per_staff=12, shared_ratio=0)
    seed(server.corp, staff["carol"])
    assert service.demo_seed() == "handovers: carol → erin, 10 customers"
    assert service.demo_seed() == "handovers: already there"
    assert Handover.objects.count() == 1
