"""The tiers demo: six levels, members ranked over the demo orders, and a rerun adds nothing."""

from __future__ import annotations

import pytest

from loyalty.tiers import demo
from loyalty.tiers.models import MemberTier, TierChange, TierLevel

from .conftest import place

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent(members, django_capture_on_commit_callbacks):
    place(members[0][0], 2500)
    with django_capture_on_commit_callbacks(execute=False):
        first = demo.seed()
    assert "created" in first
    assert list(TierLevel.objects.order_by("rank").values_list("name", flat=True))[::5] == ["可可小白", "可可大师"]
    assert MemberTier.objects.get(member=members[0][0]).level.name == "可可行家"
    changes = TierChange.objects.count()
    second = demo.seed()
    assert "kept" in second and "0 member tiers written" in second
    assert TierChange.objects.count() == changes == 5
