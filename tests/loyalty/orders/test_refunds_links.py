"""Refunds (partial, per line, idempotent, never more than paid), pending buyers linked when the
member appears (hook and periodic sweep, through a real Celery worker), orders following merges,
and guide attribution by the operator's rule."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections
from django.utils import timezone

from loyalty.orders import hooks, services
from loyalty.orders.models import AttributionPolicy, Order, OrderStatus
from loyalty.orders.tasks import link_pending_orders
from members.models import Identity, Member, ServiceNote, StaffRelation
from members.services import identities, merge, upsert
from scrm.errors import Conflict, InvalidInput
from scrm.models import User
from tests.helpers import wait_for
from tests.loyalty.orders.data import order

# --- refunds -----------------------------------------------------------------------------------------


@pytest.fixture
def paid(alice, members):
    recorded, _ = services.record_order(data=order(phone="+8613800130000"), actor=alice)
    return recorded


def test_partial_then_full_refund(paid, alice, changed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        refund, created = services.record_refund(order=paid, external_id="R1", amount="58.00", actor=alice)
    assert created
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PARTIALLY_REFUNDED and paid.net_amount == Decimal("300.00")
    assert changed == [([paid.pk], [paid.member_id])]
    services.record_refund(order=paid, external_id="R2", amount="300", actor=alice)
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDED and paid.refunded_amount == paid.total_amount


def test_refund_is_idempotent_by_number(paid, alice):
    first, _ = services.record_refund(order=paid, external_id="R1", amount="10.00", actor=alice)
    again, created = services.record_refund(order=paid, external_id="R1", amount="10", actor=alice)
    assert not created and again.pk == first.pk
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("10.00")
    with pytest.raises(Conflict):
        services.record_refund(order=paid, external_id="R1", amount="11.00", actor=alice)


def test_refund_larger_than_order_or_line_is_refused(paid, alice):
    line = paid.lines.get(sku="DP-L")
    with pytest.raises(InvalidInput) as exc:
        services.record_refund(order=paid, external_id="R1", amount="358.01", actor=alice)
    assert "358.00 still refundable" in exc.value.details["amount"][0]
    with pytest.raises(InvalidInput) as exc:
        services.record_refund(order=paid, external_id="R2", amount="60.01", line=line.pk, actor=alice)
    assert "60.00 still refundable on line" in exc.value.details["amount"][0]
    for bad in ("-5", "0", "abc"):
        with pytest.raises(InvalidInput):
            services.record_refund(order=paid, external_id="R3", amount=bad, actor=alice)
    paid.refresh_from_db()
    assert paid.refunded_amount == 0 and not paid.refunds.exists()


def test_line_refund_updates_line_and_order(paid, alice):
    line = paid.lines.get(sku="DP-L")
    services.record_refund(order=paid, external_id="R1", amount="60.00", line=line.pk, reason="破损", actor=alice)
    line.refresh_from_db()
    paid.refresh_from_db()
    assert line.refunded_amount == Decimal("60.00") and paid.refunded_amount == Decimal("60.00")
    with pytest.raises(InvalidInput):
        services.record_refund(order=paid, external_id="R2", amount="1", line=999999, actor=alice)


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_order(stores, alice):
    recorded, _ = services.record_order(data=order(lines=None, total_amount="100.00"), actor=alice)
    outcomes = []
    barrier = threading.Barrier(4)

    def refund(n):
        barrier.wait()
        try:
            services.record_refund(order=recorded, external_id=f"R{n}", amount="40.00", actor=alice)
            outcomes.append("ok")
        except InvalidInput:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=refund, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded.refresh_from_db()
    assert sorted(outcomes) == ["ok", "ok", "refused", "refused"]
    assert recorded.refunded_amount == Decimal("80.00")


# --- pending buyers --------------------------------------------------------------------------------


def _pending(alice, number="T1", buyer_id="tb_1"):
    data = order(
        channel="tmall",
        external_id=number,
        store=None,
        lines=None,
        total_amount="99.00",
        buyer={"channel": "tmall", "namespace": "flagship", "external_id": buyer_id},
    )
    return services.record_order(data=data, actor=alice)[0]


def test_link_for_new_identity(alice, members, carol, changed):
    pending = _pending(alice)
    member = members[0][0]
    identity = Identity.objects.create(member=member, channel="tmall", namespace="flagship", external_id="tb_1")
    assert services.link_orders_for_identities(identity_ids=[identity.pk]) == 1
    pending.refresh_from_db()
    assert pending.member_id == member.pk
    assert pending.store_id == member.home_store_id  # counted for the member's home store
    assert pending.staff_id == carol.pk and pending.attribution == "owner"
    assert services.link_orders_for_identities(identity_ids=[identity.pk]) == 0


def test_upsert_hook_links_orders_through_celery(celery_worker, alice, members):
    pending = _pending(alice, "T2", "tb_2")
    result = upsert.upsert_member(
        identities=[{"channel": "tmall", "namespace": "flagship", "external_id": "tb_2"}],
        profile={"name": "天猫买家"},
        actor=alice,
    )
    assert wait_for(lambda: Order.objects.filter(pk=pending.pk, member_id=result.member_id).exists())


def test_add_identity_hook_links_orders_through_celery(celery_worker, alice, members):
    pending = _pending(alice, "T3", "tb_3")
    member = members[0][1]
    identities.add_identity(member=member, channel="tmall", namespace="flagship", external_id="tb_3", actor=alice)
    assert wait_for(lambda: Order.objects.filter(pk=pending.pk, member_id=member.pk).exists())


def test_periodic_sweep_links_bulk_imported_identities(celery_worker, alice, members):
    pending = [_pending(alice, f"T4{i}", f"tb_4{i}") for i in range(3)]
    member = members[1][0]
    # as a file import writes them: straight into the table, no hook
    Identity.objects.bulk_create(
        [Identity(member=member, channel="tmall", namespace="flagship", external_id=f"tb_4{i}") for i in range(2)]
    )
    link_pending_orders.delay()
    assert wait_for(lambda: Order.objects.filter(member=member).count() == 2)
    assert Order.objects.get(pk=pending[2].pk).member_id is None


def test_phone_buyer_linked_when_member_appears(alice, stores):
    recorded, _ = services.record_order(data=order(phone="13912345678", external_id="P1"), actor=alice)
    assert recorded.member_id is None and recorded.buyer_channel == "phone"
    member = Member.objects.create(name="新会员", phone="+8613912345678", home_store=stores[0])
    Identity.objects.create(member=member, channel="phone", external_id="+8613912345678")
    assert services.link_pending_orders() == 1


# --- merges ------------------------------------------------------------------------------------------


def test_merge_moves_orders_to_survivor(alice, members, changed, django_capture_on_commit_callbacks):
    survivor, duplicate = members[0][0], members[0][1]
    recorded, _ = services.record_order(data=order(member_id=duplicate.pk), actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        record = merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    recorded.refresh_from_db()
    assert recorded.member_id == survivor.pk
    assert record.merged_id == duplicate.pk
    assert ([recorded.pk], sorted([survivor.pk, duplicate.pk])) in changed


# --- attribution -------------------------------------------------------------------------------------


@pytest.fixture
def erin(store_a):
    return User.objects.create(username="erin", role="store_staff", store=store_a, display_name="Erin")


def test_named_guide_of_the_store_wins(alice, members, erin, dave):
    member = members[0][0]
    recorded, _ = services.record_order(data=order(member_id=member.pk, guide="erin"), actor=alice)
    assert (recorded.staff_id, recorded.attribution) == (erin.pk, "given")
    other, _ = services.record_order(data=order(member_id=member.pk, guide="dave", external_id="G2"), actor=alice)
    assert other.attribution == "owner" and other.staff_id == member.owner_id  # dave works in another store


def test_last_served_rule_with_window_and_owner_fallback(alice, members, erin, carol):
    member, quiet = members[0][0], members[0][1]
    services.set_attribution_policy(rule="last_served", window_days=30, actor=alice)
    now = timezone.now()
    ServiceNote.objects.create(member=member, author=erin, body="试吃", created_at=now - timedelta(days=3))
    StaffRelation.objects.create(member=quiet, staff=erin, added_at=now - timedelta(days=45))
    placed = now.isoformat()
    served, _ = services.record_order(data=order(member_id=member.pk, placed_at=placed), actor=alice)
    assert (served.staff_id, served.attribution) == (erin.pk, "last_served")
    stale, _ = services.record_order(data=order(member_id=quiet.pk, placed_at=placed, external_id="W2"), actor=alice)
    assert (stale.staff_id, stale.attribution) == (carol.pk, "owner")
    before, _ = services.record_order(
        data=order(member_id=member.pk, placed_at=(now - timedelta(days=10)).isoformat(), external_id="W3"), actor=alice
    )
    assert before.attribution == "owner"  # the note came after that order
    erin.is_active = False
    erin.save()
    gone, _ = services.record_order(data=order(member_id=member.pk, placed_at=placed, external_id="W4"), actor=alice)
    assert gone.staff_id == carol.pk


def test_policy_is_for_operators_and_checked(alice, bob):
    with pytest.raises(InvalidInput) as exc:
        services.set_attribution_policy(rule="random", window_days=0, actor=alice)
    assert set(exc.value.details) == {"rule", "window_days"}
    from scrm.errors import Forbidden

    with pytest.raises(Forbidden):
        services.set_attribution_policy(rule="owner", window_days=7, actor=bob)
    assert AttributionPolicy.current().rule == "owner"


def test_hooks_run_only_after_commit(alice, members, changed):
    services.record_order(data=order(), actor=alice)
    assert changed == []  # the test transaction never commits
    assert hooks._CALLBACKS
