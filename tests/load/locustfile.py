"""What the load test does, as an integrator's traffic would: look members up by phone, read a
member, and post orders (each with a new number, some with a buyer no member has yet).

The runner (`run.py`) passes the key and the phones to look up through the environment."""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import UTC, datetime

from locust import HttpUser, between, task

KEY = os.environ["SIYU_LOAD_KEY"]
PHONES = json.loads(os.environ["SIYU_LOAD_PHONES"])
MEMBER_IDS = json.loads(os.environ["SIYU_LOAD_MEMBER_IDS"])
STORE = os.environ["SIYU_LOAD_STORE"]


class Integrator(HttpUser):
    wait_time = between(0, 0.05)

    def on_start(self):
        self.client.headers.update({"Authorization": f"Bearer {KEY}", "Accept": "application/json"})

    @task(5)
    def lookup_by_phone(self):
        phone = random.choice(PHONES)
        # A phone goes in the body, never the URL (GET /members/?q=<phone> is a 400).
        with self.client.post("/api/v1/members/search/", json={"q": phone}, name="POST /members/search/",
                              catch_response=True) as r:
            if r.status_code != 200 or not r.json().get("results"):
                r.failure(f"{r.status_code}: no member for a known phone")

    @task(3)
    def read_member(self):
        self.client.get(f"/api/v1/members/{random.choice(MEMBER_IDS)}/", name="GET /members/{id}/")

    @task(2)
    def post_order(self):
        number = f"LOAD-{uuid.uuid4().hex[:16]}"
        buyer = random.choice(PHONES) if random.random() < 0.8 else f"139{random.randrange(10**8):08d}"
        body = {
            "channel": "pos",
            "external_id": number,
            "store": STORE,
            "buyer": {"channel": "phone", "external_id": buyer},
            "total_amount": "128.00",
            "currency": "CNY",
            "placed_at": datetime.now(UTC).isoformat(),
            "lines": [{"name": "黑巧礼盒", "category": "礼盒", "quantity": 1, "amount": "128.00"}],
        }
        headers = {"Idempotency-Key": number}
        with self.client.post(
            "/api/v1/orders/", json=body, headers=headers, name="POST /orders/", catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:200]}")
