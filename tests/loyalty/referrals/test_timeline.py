"""Referrals and commissions on the member timeline: who referred whom and what the referrer earned,
after the referral and commission services ran."""

from __future__ import annotations

import pytest
from django.utils import translation

from loyalty.referrals import services
from members import timeline

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_language():
    language = translation.get_language()
    yield
    translation.activate(language)


def texts(member, reader, language="en") -> list[str]:
    with translation.override(language):
        return [e.text for e in timeline.page(member, reader, kinds=["referrals"]).entries]


def test_referral_and_commission_appear_on_both_members(members, codes, any_rule, make_order, alice):
    (a0, a1, _a2), _b = members
    code = codes[a0.pk].code
    bought = make_order(member=a1, code=code, total="200.00")
    services.sync_commissions(order_ids=[bought.pk])
    assert texts(a1, alice) == [f"Referred by member {a0.pk} (code {code})"]
    # The referral is recorded as the commission is (the first order carrying the code).
    assert sorted(texts(a0, alice)) == [
        f"Commission CNY 10.00 on order {bought.external_id}: Pending (return window)",
        f"Referred member {a1.pk} (code {code})",
    ]
    chinese = texts(a0, alice, "zh-hans")
    assert f"订单 {bought.external_id} 佣金 CNY 10.00：待确认（退货期内）" in chinese


def test_an_explicit_referral_is_told(members, codes, alice):
    (a0, _a1, a2), _b = members
    services.record_referral(member=a2, code=codes[a0.pk].code, actor=alice)
    assert texts(a2, alice) == [f"Referred by member {a0.pk} (code {codes[a0.pk].code})"]
