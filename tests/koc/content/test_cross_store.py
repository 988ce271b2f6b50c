"""Cross-store checks of the content API's routes with no model list of their own (the candidates
and the metrics batch), as a key bound to store A, beside the route sweep of tests/scrm."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from koc.models import MetricSnapshot, Post
from loyalty.orders.models import Order
from scrm import permissions
from tests.scrm.test_route_scoping import _member, _n, build


@pytest.fixture
def key_a(api_client, make_key, store_a):
    plaintext = make_key(scopes=permissions.available_scopes(store_bound=True), store=store_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return api_client


def test_koc_candidates_leave_out_another_stores_members(key_a, store_a, store_b):
    ours, theirs = _member(store_a), _member(store_b)
    for member, store in ((ours, store_a), (theirs, store_b)):
        Order.objects.create(channel="pos", external_id=f"o{_n()}", total_amount=Decimal("100"),
                             placed_at=timezone.now() - timedelta(hours=1), store=store, member=member)
    response = key_a.get(reverse("api:koc-candidate-list"))
    assert response.status_code == 200
    assert {row["member"] for row in response.json()} == {ours.pk}


def test_koc_metrics_batch_refuses_another_stores_post(key_a, store_a, store_b):
    ours, theirs = build(Post, store_a), build(Post, store_b)
    row = {"taken_at": timezone.now().isoformat(), "views": 1, "likes": 0, "saves": 0, "comments": 0, "shares": 0}
    response = key_a.post(reverse("api:koc-metrics-batch"), {"rows": [{"post": theirs.pk, **row}]}, format="json")
    assert response.status_code == 400 and "post" in response.json()["error"]["details"]["0"]
    assert not MetricSnapshot.objects.exists()
    response = key_a.post(reverse("api:koc-metrics-batch"), {"rows": [{"post": ours.pk, **row}]}, format="json")
    assert response.status_code == 201, response.content
