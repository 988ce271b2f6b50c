"""Recording orders: idempotent by (channel, order number), buyers resolved through identities or
phone (or kept pending), every bad input refused with a clear error and nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from loyalty.orders import services
from loyalty.orders.models import Order, OrderLine
from members.models import Identity, Member
from scrm.errors import InvalidInput
from tests.loyalty.orders.data import order


def test_record_order_with_member_by_phone_and_lines(alice, members, changed, django_capture_on_commit_callbacks):
    member = members[0][0]
    with django_capture_on_commit_callbacks(execute=True):
        recorded, created = services.record_order(data=order(phone="138 0013 0000"), actor=alice)
    assert created
    assert recorded.member_id == member.pk
    assert recorded.store.code == "SH01"
    assert recorded.total_amount == Decimal("358.00")
    assert recorded.buyer_channel == "phone" and recorded.buyer_external_id == "+8613800130000"
    assert list(recorded.lines.values_list("category", "quantity", "amount")) == [
        ("milk powder", 1, Decimal("298.00")),
        ("diapers", 2, Decimal("60.00")),
    ]
    assert changed == [([recorded.pk], [member.pk])]


def test_duplicate_order_number_answers_with_existing_order(
    alice, members, changed, django_capture_on_commit_callbacks
):
    first, created = services.record_order(data=order(), actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        again, created_again = services.record_order(data=order(), actor=alice)
    assert created and not created_again
    assert again.pk == first.pk and again.total_amount == Decimal("358.00")
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 2
    assert changed == []  # nothing new: nobody recomputes anything


def test_same_order_number_on_another_channel_is_another_order(alice, members):
    services.record_order(data=order(), actor=alice)
    services.record_order(data=order(channel="tmall", store=None), actor=alice)
    assert Order.objects.count() == 2


def test_batch_records_valid_items_and_reports_each_invalid_one(alice, members):
    items = [
        order(external_id="A1"),
        order(external_id="A2", total_amount="-1", lines=None),
        order(external_id="A1"),  # repeated within the batch
        order(external_id="A3", currency="USD"),
        order(external_id="A4", store="XX99"),
        order(external_id="A5", lines=[{"name": "奶粉", "amount": "100.00"}]),
        order(external_id="A6", channel="ebay"),
        order(external_id="A7", placed_at="yesterday"),
        order(external_id="A8", member_id=999999, lines=None, total_amount="10"),
    ]
    result = services.record_orders(items=items, actor=alice)
    assert [(r.index, r.created) for r in result.results] == [(0, True), (2, False)]
    assert result.results[0].order_id == result.results[1].order_id
    assert set(result.errors) == {1, 3, 4, 5, 6, 7, 8}
    assert "negative" in result.errors[1]["total_amount"][0]
    assert "USD" in result.errors[3]["currency"][0] and "CNY" in result.errors[3]["currency"][0]
    assert "XX99" in result.errors[4]["store"][0]
    assert "add up to 100.00" in result.errors[5]["lines"][0]
    assert "ebay" in result.errors[6]["channel"][0]
    assert "yesterday" in result.errors[7]["placed_at"][0]
    assert "999999" in result.errors[8]["member_id"][0]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A1"]


def test_atomic_batch_writes_nothing_when_one_item_is_invalid(alice, members):
    items = [order(external_id="B1"), order(external_id="B2", total_amount="1.001", lines=None)]
    with pytest.raises(InvalidInput) as exc:
        services.record_orders(items=items, actor=alice, atomic=True)
    assert "two decimal places" in exc.value.details["items"]["1"]["total_amount"][0]
    assert not Order.objects.exists()


def test_line_errors_name_the_line(alice, members):
    with pytest.raises(InvalidInput) as exc:
        services.record_order(data=order(lines=[{"name": "", "amount": "-3", "quantity": 0}]), actor=alice)
    line = exc.value.details["lines"]["0"]
    assert set(line) == {"name", "amount", "quantity"}


@override_settings(SIYU_CURRENCIES=["CNY", "HKD"])
def test_second_brand_currency_is_accepted(alice, members):
    recorded, _ = services.record_order(data=order(currency="hkd"), actor=alice)
    assert recorded.currency == "HKD"


def test_unknown_buyer_is_kept_pending(alice, members):
    data = order(
        channel="tmall",
        external_id="T100",
        store=None,
        lines=None,
        total_amount="59.90",
        buyer={"channel": "tmall", "namespace": "coco-flagship", "external_id": "tb_nick_1"},
    )
    recorded, created = services.record_order(data=data, actor=alice)
    assert created and recorded.member_id is None and recorded.store_id is None
    assert (recorded.buyer_channel, recorded.buyer_namespace, recorded.buyer_external_id) == (
        "tmall",
        "coco-flagship",
        "tb_nick_1",
    )


def test_buyer_identity_finds_member_and_home_store(alice, members):
    member = members[1][0]
    Identity.objects.create(member=member, channel="douyin", external_id="dy42")
    recorded, _ = services.record_order(
        data=order(channel="douyin", store=None, buyer={"channel": "douyin", "external_id": "dy42"}), actor=alice
    )
    assert recorded.member_id == member.pk
    assert recorded.store_id == member.home_store_id  # online orders count for the member's home store


def test_member_id_of_merged_duplicate_goes_to_survivor(alice, members):
    survivor, duplicate = members[0][0], members[0][1]
    Member.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    recorded, _ = services.record_order(data=order(member_id=duplicate.pk), actor=alice)
    assert recorded.member_id == survivor.pk


def test_store_bound_actor_records_only_its_store(bob, members, store_b):
    recorded, _ = services.record_order(data=order(store=None, external_id="S1"), actor=bob)
    assert recorded.store.code == "SH01"
    with pytest.raises(InvalidInput) as exc:
        services.record_order(data=order(store="BJ01", external_id="S2"), actor=bob)
    assert "BJ01" in exc.value.details["store"][0]
    with pytest.raises(InvalidInput):  # a member of another store is not theirs to name
        services.record_order(data=order(external_id="S3", member_id=members[1][0].pk), actor=bob)


def test_order_number_of_another_store_is_not_revealed(alice, bob, dave, members):
    services.record_order(data=order(store="BJ01", external_id="X1"), actor=alice)
    with pytest.raises(InvalidInput) as exc:
        services.record_order(data=order(store="SH01", external_id="X1"), actor=bob)
    assert "another store" in exc.value.details["external_id"][0]


def test_batch_size_is_limited(alice):
    with pytest.raises(InvalidInput):
        services.record_orders(items=[order(external_id=str(i)) for i in range(services.MAX_BATCH + 1)], actor=alice)
    with pytest.raises(InvalidInput):
        services.record_orders(items=[], actor=alice)


def test_batch_query_count_does_not_grow_with_items(alice, members, django_assert_max_num_queries):
    items = [order(external_id=f"Q{i}", phone=f"+861380013{i % 3:04d}") for i in range(200)]
    with django_assert_max_num_queries(12):
        result = services.record_orders(items=items, actor=alice)
    assert result.created == 200 and not result.errors
    assert OrderLine.objects.count() == 400


def test_text_with_quotes_braces_and_backslashes_is_kept(alice, members):
    name = 'Coco "大师" {礼盒}, 70%\\黑巧 NULL'
    recorded, _ = services.record_order(
        data=order(external_id='Q"1,{x}', lines=[{"name": name, "category": "礼盒", "amount": "358.00"}]), actor=alice
    )
    assert recorded.external_id == 'Q"1,{x}'
    assert recorded.lines.get().name == name


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_orders_record_each_once(stores, alice):
    import threading

    from django.db import close_old_connections

    items = [order(external_id=f"C{i:03d}", lines=None, total_amount="10.00") for i in range(300)]
    results, barrier = [], threading.Barrier(3)

    def send(batch):
        barrier.wait()
        try:
            results.append(services.record_orders(items=batch, actor=alice))
        finally:
            close_old_connections()

    # the same orders, in three different orders: sorted inserts keep them from deadlocking
    batches = [items, list(reversed(items)), items[150:] + items[:150]]
    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and not any(r.errors for r in results)
    assert sum(r.created for r in results) == 300
    assert Order.objects.count() == 300
    ids = [{r.order_id for r in result.results} for result in results]
    assert ids[0] == ids[1] == ids[2]
