"""Commissions follow their orders: most specific rule, self-referral, refunds, release, paid."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.orders.models import Order
from loyalty.referrals import services
from loyalty.referrals.models import Commission, CommissionRule, Referral
from members.models import Identity
from scrm.actors import SystemActor
from scrm.errors import InvalidInput, NotInScope


def _sync(*orders):
    return services.sync_commissions(order_ids=[o.pk for o in orders])


def test_referred_order_earns_by_the_most_specific_rule(members, codes, make_order):
    (a0, a1, _a2), _ = members
    CommissionRule.objects.create(name="any", rate=Decimal("3"))
    CommissionRule.objects.create(name="tmall", channel="tmall", rate=Decimal("4"))
    CommissionRule.objects.create(name="milk", category="milk powder", rate=Decimal("6"), fixed_amount=Decimal("2"))
    CommissionRule.objects.create(name="tmall milk", channel="tmall", category="milk powder", rate=Decimal("8"))
    CommissionRule.objects.create(
        name="tmall milk off", channel="tmall", category="milk powder", rate=Decimal("50"), is_active=False
    )
    code = codes[a0.pk].code
    plain = make_order(member=a1, code=code.lower(), total="100.00")  # codes are read case-blind
    tmall = make_order(member=a1, code=code, total="100.00", channel="tmall")
    milk = make_order(member=a1, code=code, total="300.00", lines=[("milk powder", "200"), ("toys", "100")])
    both = make_order(member=a1, code=code, total="300.00", channel="tmall", lines=[("milk powder", "200")])
    result = _sync(plain, tmall, milk, both)
    assert result["created"] == 4
    got = {c.order_id: c for c in Commission.objects.all()}
    assert (got[plain.pk].rule.name, got[plain.pk].amount) == ("any", Decimal("3.00"))
    assert (got[tmall.pk].rule.name, got[tmall.pk].amount) == ("tmall", Decimal("4.00"))
    # A category rule counts the lines of that category only (6% of 200) plus its fixed amount.
    assert (got[milk.pk].rule.name, got[milk.pk].amount) == ("milk", Decimal("14.00"))
    assert (got[both.pk].rule.name, got[both.pk].amount) == ("tmall milk", Decimal("16.00"))
    c = got[plain.pk]
    assert c.referrer_id == a0.pk and c.referred_member_id == a1.pk and c.status == "pending"
    assert c.payable_at == plain.placed_at + timedelta(days=7)
    assert "3% of 100.00" in c.explanation
    assert Referral.objects.get(member=a1).referrer_id == a0.pk  # the first order records the referrer


def test_sync_is_idempotent_and_priority_breaks_ties(members, codes, make_order):
    (a0, a1, _a2), _ = members
    CommissionRule.objects.create(name="low", rate=Decimal("1"), priority=0)
    CommissionRule.objects.create(name="high", rate=Decimal("2"), priority=5)
    order = make_order(member=a1, code=codes[a0.pk].code)
    _sync(order)
    again = _sync(order)
    assert again["created"] == 0 and again["referrals"] == 0
    assert Commission.objects.get().rule.name == "high"
    assert Commission.objects.count() == 1 and Referral.objects.count() == 1


def test_no_rule_unknown_code_or_no_code_earn_nothing(members, codes, make_order):
    (a0, a1, _a2), _ = members
    orders = [
        make_order(member=a1, code=codes[a0.pk].code),
        make_order(member=a1, code="NOPE2345"),
        make_order(member=a1),
    ]
    _sync(*orders)
    assert not Commission.objects.exists()


@pytest.mark.parametrize("how", ["same_member", "same_phone", "same_identity"])
def test_self_referral_earns_nothing_and_says_why(how, members, codes, make_order, any_rule):
    (a0, a1, _a2), _ = members
    code = codes[a0.pk].code
    if how == "same_member":
        order = make_order(member=a0, code=code)
        reason = "self_referral"
    elif how == "same_phone":
        a1.phone = a0.phone
        a1.save()
        order = make_order(member=a1, code=code)
        reason = "same_phone"
    else:
        Identity.objects.create(member=a0, channel="tmall", namespace="shop1", external_id="tb_a0")
        order = make_order(code=code, buyer_channel="tmall", buyer_namespace="shop1", buyer_external_id="tb_a0")
        reason = "same_identity"
    _sync(order)
    c = Commission.objects.get()
    assert (c.status, c.cancel_reason, c.amount) == ("cancelled", reason, Decimal("0"))
    assert "Self-referral" in c.explanation
    assert not Referral.objects.exists()


def test_pending_buyer_later_linked_to_the_referrer_is_cancelled(members, codes, make_order, any_rule):
    (a0, _a1, _a2), _ = members
    order = make_order(code=codes[a0.pk].code, buyer_channel="douyin", buyer_external_id="dy1")
    _sync(order)
    assert Commission.objects.get().status == "pending"
    Order.objects.filter(pk=order.pk).update(member=a0)  # the buyer turns out to be the referrer
    _sync(order)
    c = Commission.objects.get()
    assert (c.status, c.cancel_reason) == ("cancelled", "self_referral")


def test_refunds_scale_a_pending_commission_and_a_full_refund_cancels(members, codes, make_order, any_rule):
    (a0, a1, _a2), _ = members
    order = make_order(member=a1, code=codes[a0.pk].code, total="200.00")
    _sync(order)
    assert Commission.objects.get().amount == Decimal("10.00")
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("50"), status="partially_refunded")
    _sync(order)
    c = Commission.objects.get()
    assert (c.status, c.amount, c.original_amount) == ("pending", Decimal("7.50"), Decimal("10.00"))
    assert "reduced by refunds" in c.explanation
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("200"), status="refunded")
    _sync(order)
    c.refresh_from_db()
    assert (c.status, c.cancel_reason, c.amount) == ("cancelled", "refunded", Decimal("0"))


def test_order_level_refund_is_shared_over_category_lines(members, codes, make_order):
    (a0, a1, _a2), _ = members
    CommissionRule.objects.create(name="milk", category="milk powder", rate=Decimal("10"))
    order = make_order(
        member=a1, code=codes[a0.pk].code, total="400.00", lines=[("milk powder", "300"), ("toys", "100")]
    )
    _sync(order)
    assert Commission.objects.get().amount == Decimal("30.00")
    Order.objects.filter(pk=order.pk).update(refunded_amount=Decimal("100"))  # no line named: 3/4 on milk
    _sync(order)
    assert Commission.objects.get().amount == Decimal("22.50")


def test_release_makes_due_commissions_payable_never_refunded_ones(members, codes, make_order, any_rule):
    (a0, a1, a2), _ = members
    old = timezone.now() - timedelta(days=10)
    due = make_order(member=a1, code=codes[a0.pk].code, placed_at=old)
    refunded_late = make_order(member=a2, code=codes[a0.pk].code, placed_at=old)
    recent = make_order(member=a1, code=codes[a0.pk].code)
    _sync(due, refunded_late, recent)
    # A full refund the hook has not processed yet still stops the commission at release time.
    Order.objects.filter(pk=refunded_late.pk).update(refunded_amount=200, status="refunded")
    assert services.release_due_commissions() == 1
    status = dict(Commission.objects.values_list("order_id", "status"))
    assert status == {due.pk: "payable", refunded_late.pk: "cancelled", recent.pk: "pending"}
    assert services.release_due_commissions() == 0  # conditional: a second run changes nothing


def test_mark_paid_all_or_nothing(members, codes, make_order, any_rule, alice, bob):
    (a0, a1, _a2), _ = members
    old = timezone.now() - timedelta(days=10)
    one = make_order(member=a1, code=codes[a0.pk].code, placed_at=old)
    two = make_order(member=a1, code=codes[a0.pk].code)
    _sync(one, two)
    services.release_due_commissions()
    payable = Commission.objects.get(order=one)
    pending = Commission.objects.get(order=two)
    with pytest.raises(InvalidInput) as err:
        services.mark_paid(commission_ids=[payable.pk, pending.pk], actor=alice)
    assert f"Commission {pending.pk} is Pending" in str(err.value.details["ids"])
    assert Commission.objects.get(pk=payable.pk).status == "payable"  # nothing changed
    with pytest.raises(NotInScope):
        services.mark_paid(commission_ids=[payable.pk, 999999], actor=alice)
    with pytest.raises(InvalidInput):
        services.mark_paid(commission_ids="1,2", actor=alice)
    assert services.mark_paid(commission_ids=[payable.pk], actor=alice) == 1
    payable.refresh_from_db()
    assert (payable.status, payable.paid_by) == ("paid", alice)


def test_codes_are_generated_for_everyone_lacking_one(members):
    (a0, *_), _ = members
    from loyalty.referrals.models import CODE_ALPHABET, ReferralCode

    assert services.generate_codes() == 5
    assert services.generate_codes() == 0
    codes = list(ReferralCode.objects.values_list("code", flat=True))
    assert len(set(codes)) == 5
    assert all(len(c) == 8 and set(c) <= set(CODE_ALPHABET) for c in codes)
    code, created = services.ensure_code(member=a0)
    assert not created and code.member_id == a0.pk


def test_record_referral_rules(members, codes):
    (a0, a1, a2), _ = members
    with pytest.raises(InvalidInput):
        services.record_referral(member=a1, code="ZZZZ9999")
    with pytest.raises(InvalidInput):
        services.record_referral(member=a0, code=codes[a0.pk].code)
    services.record_referral(member=a1, code=codes[a0.pk].code)
    with pytest.raises(InvalidInput):  # a1 referred by a0; a0 cannot then be referred by a1
        services.record_referral(member=a0, code=codes[a1.pk].code)
    from scrm.errors import Conflict

    with pytest.raises(Conflict):
        services.record_referral(member=a1, code=codes[a2.pk].code)
    services.record_referral(member=a2, code=codes[a1.pk].code)  # a chain: a0 → a1 → a2
    assert Referral.objects.get(member=a2).referrer_id == a1.pk


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "", "rate": "5"}, "name"),
        ({"name": "x", "rate": "101"}, "rate"),
        ({"name": "x", "rate": "-1"}, "rate"),
        ({"name": "x", "rate": "abc"}, "rate"),
        ({"name": "x", "rate": "1.234"}, "rate"),
        ({"name": "x", "rate": "0", "fixed_amount": "0"}, "rate"),
        ({"name": "x", "rate": "5", "channel": "ebay"}, "channel"),
        ({"name": "x", "rate": "5", "return_window_days": 400}, "return_window_days"),
        ({"name": "x", "rate": "5", "colour": "red"}, "colour"),
    ],
)
def test_bad_rules_are_refused(db, data, field):
    with pytest.raises(InvalidInput) as err:
        services.create_rule(data=data, actor=SystemActor("test"))
    assert field in err.value.details
    assert not CommissionRule.objects.exists()


def test_twin_active_rules_are_refused(db):
    services.create_rule(data={"name": "a", "channel": "tmall", "rate": "5"}, actor=SystemActor("test"))
    with pytest.raises(InvalidInput) as err:
        services.create_rule(data={"name": "b", "channel": "tmall", "rate": "6"}, actor=SystemActor("test"))
    assert "priority" in err.value.details
    services.create_rule(data={"name": "b", "channel": "tmall", "rate": "6", "priority": 1}, actor=SystemActor("test"))
    assert CommissionRule.objects.count() == 2
