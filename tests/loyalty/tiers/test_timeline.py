"""Tier moves on the member timeline, after the recalculation and a manual floor really ran."""

from __future__ import annotations

import pytest
from django.utils import translation

from loyalty.tiers import services
from members import timeline
from tests.loyalty.tiers.conftest import place

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_language():
    language = translation.get_language()
    yield
    translation.activate(language)


def tier_texts(member, reader, language) -> list[str]:
    with translation.override(language):
        return [e.text for e in timeline.page(member, reader, kinds=["tiers"]).entries]


def test_moves_up_and_a_floor_are_told_with_their_reason(levels, members, alice, bob):
    member = members[0][0]
    place(member, 1200)
    services.recalculate_tiers(member_ids=[member.pk], reason="order")
    services.set_floor(member=member, level_id=levels[2].pk, reason="VIP 客户", actor=bob)
    english = tier_texts(member, alice, "en")
    assert english[0] == "Tier raised: 可可达人 → 可可大师 (Manual floor)"
    assert english[1] == "Tier raised: — → 可可达人 (Order)"
    entry = timeline.page(member, alice, kinds=["tiers"]).entries[0]
    assert entry.actor == "Bob"
    chinese = tier_texts(member, alice, "zh-hans")
    assert len(chinese) == len(english) and "Manual floor" not in chinese[0]


def test_another_stores_clerk_never_reaches_the_history(levels, members, dave):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(dave)
    assert client.get(f"/api/v1/members/{members[0][0].pk}/timeline/?kind=tiers").status_code == 404
