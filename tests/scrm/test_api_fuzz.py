"""The API against its own OpenAPI document, fuzzed: schemathesis with every check (no server error,
every status code documented, every answer matching its schema and content type, no resource
reachable after its deletion, no answer without the key, a request the schema rules out refused, a
request it allows not refused as invalid) must find nothing, but for the operations named in
NEGATIVE_DATA_REJECTION_EXEMPT and POSITIVE_DATA_ACCEPTANCE_EXEMPT, each with its reason.

The server is gunicorn as production runs it, over the test database seeded with the demo brand
(stores, staff, members with identities, tags, consent and notes, orders, tiers, points and rewards,
referrals), so operations reach their logic rather than a 404. It runs twice: with a
brand-wide key holding every scope and with a key bound to store SH01. Each run is bounded
(`--max-time`) and derandomised (`--generation-deterministic`), so CI sends the same
requests every time; on a failure the test prints schemathesis' report, which says how to replay
each failing request with curl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scrm.permissions import available_scopes
from tests.served import get, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

MAX_SECONDS_PER_KEY = 55


@pytest.fixture
def seeded():
    from scrm import demo
    from scrm.models import Store
    from scrm.services import api_keys

    demo.seed(password="fuzz-demo-password")
    demo.seed_apps(members=80)
    store = Store.objects.get(code="SH01")
    keys = {
        "brand": api_keys.issue(name="fuzz brand", scopes=available_scopes(store_bound=False)).plaintext,
        "store": api_keys.issue(name="fuzz SH01", scopes=available_scopes(store_bound=True), store=store).plaintext,
    }
    return {"keys": keys}


@pytest.fixture
def served(seeded):
    # The fuzzer's requests come faster than any integrator's: no rate limit in the way.
    with gunicorn(threads=4, env={"API_RATE_LIMIT": "1000000/min"}) as base:
        yield base


def _schema(base: str, tmp_path: Path) -> Path:
    """The OpenAPI document as the server publishes it, fetched once (building it takes seconds)."""
    status, body = get(f"{base}/api/schema/?format=json")
    assert status == 200, body[:500]
    path = tmp_path / "openapi.json"
    path.write_bytes(body)
    return path


# Operations where a check cannot hold, each with the reason; every other operation is held to
# every check, positive_data_acceptance and negative_data_rejection included.
NEGATIVE_DATA_REJECTION_EXEMPT = {
    # Batches answer each item on its own (atomic: false, the default for orders): an item the schema
    # rules out (a missing total_amount) is that item's "invalid" result in a 200, while the rest are
    # written. The batch's own fields (items, atomic) are held to the schema.
    "POST /api/v1/orders/batch/": "an item breaking the schema is its own invalid result in a 200",
    "POST /api/v1/members/bulk-upsert/": "an item breaking the schema is its own invalid result (atomic: false)",
    # An empty store code is the documented brand-wide value; the schema's minLength for a code cannot say so.
    "PUT /api/v1/segments/{id}/": "an empty store code means brand-wide (documented on the field)",
    "PATCH /api/v1/segments/{id}/": "an empty store code means brand-wide (documented on the field)",
}
# A request the schema allows may still be refused with a 400 (or 422) for a reason no OpenAPI schema
# can state; these operations are where the fuzzer meets one, so the check is off there alone.
CURSOR = "an opaque cursor: any string fits the schema, only one this list issued is a page (400)"
EXISTS = "names what must exist (a tag, tag group, level, store or staff code, segment, member, reward)"
ACROSS = "a rule across fields (ends_at after starts_at, choices only for a choice type, a rate or an amount)"
UNIQUE = "a name that must be unique"
CONTENT = "a file whose content must be a CSV or an .xlsx workbook, whatever its declared type"
BRAND = "a value the brand's configuration decides (its currencies) or a real phone number"
KEYED = "the fuzzer reuses an Idempotency-Key for another body, which is a 422 by design"
GRAMMAR = "a segment definition, whose grammar GET /segments/filters/ describes and the schema cannot"
SCOPE = "a store-bound key may name its own store only (home_store), which the one schema for all keys cannot say"
DECIMAL_MINIMUM = "a decimal written as text, whose minimum above zero no string pattern states"
TIMELINE_KINDS = "timeline kinds are what the installed apps register, so the parameter is free text"
POSITIVE_DATA_ACCEPTANCE_EXEMPT = {
    "POST /api/v1/tasks/": f"{EXISTS} (the store, its member with consent, its staff); {ACROSS} (a custom task's "
                           f"title, a follow-up's member); {KEYED}",
    "POST /api/v1/tasks/{id}/complete/": f"{ACROSS} (only an open task is done); {KEYED}",
    "POST /api/v1/tasks/{id}/skip/": f"{ACROSS} (a done task cannot be skipped); {KEYED}",
    "POST /api/v1/tasks/{id}/reassign/": f"{EXISTS} (staff of the task's store); {ACROSS} (only an open task); {KEYED}",
    "POST /api/v1/tasks/{id}/claim/": f"{ACROSS} (a pool task, the store's staff); {KEYED}",
    "POST /api/v1/journeys/": f"{EXISTS} (a trigger's tag, segment, category; a task's staff); {ACROSS} (each step "
                              f"kind's settings, a branch only forward, a wait above zero); {KEYED}",
    "PATCH /api/v1/journeys/{id}/": f"{EXISTS}; {ACROSS} (as on create; an ended journey is not changed)",
    "POST /api/v1/journeys/{id}/activate/": f"{ACROSS} (a draft or paused journey whose steps still hold); {KEYED}",
    "POST /api/v1/journeys/{id}/pause/": f"{ACROSS} (only a live journey is paused); {KEYED}",
    "POST /api/v1/journeys/{id}/end/": KEYED,
    "POST /api/v1/calendar/posts/": f"{EXISTS} (the store, staff with a WeCom account, WeCom-linked tags); "
                                    f"{ACROSS} (a text or a link, a time to come, the audience's store or staff); "
                                    f"{SCOPE}; {KEYED}",
    "PATCH /api/v1/calendar/posts/{id}/": f"{EXISTS}; {ACROSS} (as on create; only a draft or scheduled post)",
    "POST /api/v1/calendar/posts/{id}/cancel/": f"{ACROSS} (a post whose day is not over); {KEYED}",
    "GET /api/v1/webhooks/events/": f"{EXISTS} (event type codes, from /api/v1/webhooks/event-types/)",
    "POST /api/v1/webhooks/subscriptions/": (
        f"{EXISTS} (event types, the store, the integration's key); {ACROSS} (a URL Siyu may post to, types "
        f"within the key's scopes); {SCOPE}; {KEYED}"
    ),
    "PATCH /api/v1/webhooks/subscriptions/{id}/": f"{EXISTS}; {ACROSS} (as on create)",
    "POST /api/v1/webhooks/subscriptions/{id}/pause/": f"{EXISTS} (a subscription of the caller's key); {KEYED}",
    "POST /api/v1/webhooks/subscriptions/{id}/resume/": f"{EXISTS} (a subscription of the caller's key); {KEYED}",
    "POST /api/v1/webhooks/subscriptions/{id}/ping/": f"{EXISTS} (an active subscription of the caller's key); {KEYED}",
    "POST /api/v1/webhooks/subscriptions/{id}/redeliver/": f"{EXISTS} (the subscription's parked deliveries); {KEYED}",
    "POST /api/v1/webhooks/subscriptions/{id}/rotate-secret/": f"{EXISTS} (a subscription of the key); {KEYED}",
    "POST /api/v1/webhooks/subscriptions/{id}/replay/": f"{ACROSS} (after or since, since within retention); {KEYED}",
    "GET /api/v1/insights/cockpit/": (
        f"{ACROSS} (a custom period: start and end together, the start not after the end, ending today at the "
        "latest, at most three years long and ten years back); a page (cockpit or store) and a section it has; the "
        "store page names a store for a brand-wide caller"
    ),
    "GET /api/v1/koc/candidates/": f"{EXISTS} (a store code)",
    "PUT /api/v1/koc/levels/": f"{ACROSS} (ranks 1..n with no gap, each level asking more than the one below); "
                               f"{UNIQUE}",
    "POST /api/v1/koc/benefits/": f"{ACROSS} (early access needs its days, a community benefit its community); "
                                  f"{EXISTS} (its level, its community); {UNIQUE}; {KEYED}",
    "PUT /api/v1/koc/benefits/{id}/": f"{ACROSS} (as on create); {EXISTS}; {UNIQUE}",
    "POST /api/v1/koc/launches/": KEYED,
    "GET /api/v1/koc/launches/{id}/early-access/": f"{EXISTS} (a member the caller reaches)",
    "POST /api/v1/koc/tier-runs/": KEYED,
    "POST /api/v1/koc/creators/{creator_id}/templates/": f"{EXISTS} (a creator holding the mentor benefit); {KEYED}",
    "PATCH /api/v1/koc/creators/{id}/": f"{EXISTS} (a mentor among the caller's creators)",
    "POST /api/v1/koc/creators/{creator_id}/accounts/": f"{UNIQUE} (a handle per platform, one account per platform); "
                                                        f"{ACROSS} (a profile link on the account's platform); {KEYED}",
    "PATCH /api/v1/koc/creators/{creator_id}/accounts/{id}/": f"{UNIQUE}; {ACROSS} (as on create)",
    "POST /api/v1/koc/applications/": f"{EXISTS} (a member the caller reaches); {KEYED}",
    "POST /api/v1/koc/applications/{id}/approve/": f"{EXISTS} (a mentor among the caller's creators); {KEYED}",
    "POST /api/v1/koc/applications/{id}/reject/": KEYED,
    "POST /api/v1/koc/posts/": f"{EXISTS} (a creator the caller reaches, an open topic); "
                               f"{ACROSS} (a link on a known platform, published in the past); {KEYED}",
    "POST /api/v1/koc/posts/{post_id}/metrics/": f"{ACROSS} (counters never lower than an earlier snapshot's, taken "
                                                 f"after publication and not in the future); {KEYED}",
    "POST /api/v1/koc/metrics/batch/": f"{EXISTS} (posts the caller reaches); {ACROSS} (as one snapshot); {KEYED}",
    "POST /api/v1/koc/posts/{id}/repost/": f"{EXISTS} (a community or campaign the caller reaches); {KEYED}",
    "POST /api/v1/koc/topics/": f"{ACROSS} (ends_at after starts_at); {EXISTS} (its level); {KEYED}",
    "PATCH /api/v1/koc/topics/{id}/": f"{ACROSS} (as on create)",
    "POST /api/v1/koc/topics/{id}/join/": f"{EXISTS} (a creator the caller reaches, at the topic's level); {KEYED}",
    "POST /api/v1/koc/topics/{topic_id}/participations/{id}/reward/": KEYED,
    "POST /api/v1/koc/rates/": KEYED,
    "PUT /api/v1/koc/rates/{id}/": "the path names one of the six platforms, which a free path segment cannot say",
    # Every list paged by a cursor is exempt too (CURSOR): see _exemptions.
    "GET /api/v1/commissions/": f"{CURSOR}; {EXISTS}",
    "GET /api/v1/stores/": f"{CURSOR}; {EXISTS}",
    "GET /api/v1/members/{member_id}/timeline/": f"{CURSOR}; {TIMELINE_KINDS}",
    "GET /api/v1/exports/members/": EXISTS,
    "GET /api/v1/segments/{id}/export/": f"{EXISTS} (columns the caller may export)",
    "GET /api/v1/member-tiers/": EXISTS,
    "GET /api/v1/members/": EXISTS,
    "GET /api/v1/orders/": EXISTS,
    "GET /api/v1/referral-codes/": EXISTS,
    "GET /api/v1/referrals/": EXISTS,
    "GET /api/v1/staff/": EXISTS,
    "DELETE /api/v1/tags/{id}/members/": EXISTS,
    "PATCH /api/v1/attributes/{id}/": ACROSS,
    "PUT /api/v1/attributes/{id}/": ACROSS,
    "PATCH /api/v1/commission-rules/{id}/": ACROSS,
    "POST /api/v1/commission-rules/": ACROSS,
    "POST /api/v1/commissions/mark-paid/": f"{EXISTS}; {KEYED}",
    "POST /api/v1/imports/": CONTENT,
    "POST /api/v1/orders/imports/": CONTENT,
    "POST /api/v1/campaign-images/": f"a file whose content must be a JPG or PNG image of at most 10 MB; {EXISTS}",
    "POST /api/v1/members/": f"{EXISTS}; {BRAND}; {SCOPE}",
    "PATCH /api/v1/members/{id}/": SCOPE,
    "PATCH /api/v1/members/{id}/attributes/": EXISTS,
    "POST /api/v1/members/upsert/": f"{ACROSS} (an identity or a phone); {KEYED}",
    "POST /api/v1/members/bulk-upsert/": f"{ACROSS} (an identity or a phone)",
    "POST /api/v1/members/search/": EXISTS,
    "POST /api/v1/members/{member_id}/consents/": ACROSS,
    "POST /api/v1/members/{member_id}/identities/": (
        f"{BRAND} (a phone identity); {UNIQUE} (an id another member holds)"
    ),
    "POST /api/v1/members/{member_id}/relations/": EXISTS,
    "POST /api/v1/members/{member_id}/tags/": EXISTS,
    "POST /api/v1/orders/": f"{BRAND}; {KEYED}",
    "GET /api/v1/appointments/availability/": f"{EXISTS} (a service the store offers); {ACROSS} (a start date)",
    "POST /api/v1/appointments/services/": f"{EXISTS} (the store, the skill); {ACROSS} (a points price for a points "
                                           f"service, travel only for a visit at home); {UNIQUE}",
    "PATCH /api/v1/appointments/services/{id}/": f"{EXISTS}; {ACROSS} (as on create); {UNIQUE}",
    "POST /api/v1/appointments/bookings/": f"{EXISTS} (the member, a service the store offers, its staff); {ACROSS} "
                                           f"(a free start within the booking window and the opening hours); {KEYED}",
    "POST /api/v1/appointments/bookings/{id}/cancel/": f"{ACROSS} (a booking still booked, within the rule); {KEYED}",
    "POST /api/v1/appointments/bookings/{id}/reschedule/": f"{ACROSS} (a free start, as on booking); {KEYED}",
    "POST /api/v1/appointments/bookings/{id}/check-in/": f"{ACROSS} (a booking still booked, its day); {KEYED}",
    "POST /api/v1/appointments/bookings/{id}/no-show/": f"{ACROSS} (a booking still booked, its start passed); {KEYED}",
    "POST /api/v1/appointments/bookings/{id}/complete/": f"{ACROSS} (a booking booked or checked in); {KEYED}",
    "POST /api/v1/communities/": f"{EXISTS} (the owner and assistants are staff of its store)",
    "PATCH /api/v1/campaigns/{id}/": (
        f"{EXISTS} (the segment); {ACROSS} (the channel's limits, a schedule in the future); unknown fields are "
        "refused (400 naming them), which the open body in the schema does not state"
    ),
    "POST /api/v1/campaigns/{campaign_id}/test-sends/": (
        f"{EXISTS} (staff and a sample member the caller can reach); {KEYED}"
    ),
    "PATCH /api/v1/communities/{id}/": f"{EXISTS} (staff of its store, the rule's segment); {ACROSS} (no capacity "
                                       "below its members, at most a mirrored group's limit)",
    "POST /api/v1/communities/{community_id}/members/": f"{EXISTS}; {KEYED}",
    "POST /api/v1/communities/{id}/add-segment/": f"{EXISTS} (a segment the caller reaches); {KEYED}",
    "POST /api/v1/communities/{community_id}/invitations/": f"{EXISTS} (live members of the store the caller "
                                                           f"reaches, or a segment); {ACROSS} (members or a segment, "
                                                           f"not both); {KEYED}",
    "POST /api/v1/events/{id}/photos/": f"{ACROSS} (the event has started; each link http(s))",
    "POST /api/v1/events/{event_id}/feedback/": f"{EXISTS} (a member checked in at the event); {ACROSS} (the event "
                                                "started, within the days after its end)",
    "GET /api/v1/communities/{id}/suggestions/": f"{EXISTS} (a segment the caller reaches: another is a 400, "
                                                 "never everyone)",
    "POST /api/v1/events/": f"{EXISTS}; {ACROSS} (ends after it starts, starts in the future, the sign-up window)",
    "PATCH /api/v1/events/{id}/": f"{ACROSS} (ends after it starts, no capacity below the seats taken)",
    "POST /api/v1/events/{event_id}/signups/": f"{EXISTS}; {KEYED}",
    "POST /api/v1/events/{event_id}/signups/{id}/cancel/": KEYED,
    "POST /api/v1/events/{event_id}/signups/{id}/confirm/": KEYED,
    "POST /api/v1/events/{event_id}/checkins/": f"{EXISTS}; {ACROSS} (a ticket code or a member id); {KEYED}",
    "POST /api/v1/events/{event_id}/checkins/batch/": (
        f"{ACROSS} (a ticket code or a member id per scan, a scan time not in the future); {KEYED}"
    ),
    "POST /api/v1/orders/batch/": KEYED,
    "POST /api/v1/send-policy/seasons/": f"{UNIQUE}; {ACROSS} (a day the month has, caps in order, no day shared "
                                         f"with another season); {KEYED}",
    "PATCH /api/v1/send-policy/seasons/{id}/": f"{UNIQUE}; {ACROSS} (as on create)",
    "PUT /api/v1/send-policy/seasons/{id}/": f"{UNIQUE}; {ACROSS} (as on create)",
    "POST /api/v1/orders/{id}/refunds/": KEYED,
    "POST /api/v1/point-entries/adjust/": KEYED,
    "POST /api/v1/redemptions/": KEYED,
    "POST /api/v1/redemptions/{id}/cancel/": KEYED,
    "PATCH /api/v1/points-policy/current/": DECIMAL_MINIMUM,
    "PATCH /api/v1/rewards/{id}/": ACROSS,
    "PUT /api/v1/rewards/{id}/": ACROSS,
    "POST /api/v1/rewards/": ACROSS,
    "POST /api/v1/segments/": GRAMMAR,
    "PATCH /api/v1/segments/{id}/": GRAMMAR,
    "PUT /api/v1/segments/{id}/": GRAMMAR,
    "POST /api/v1/segments/count/": GRAMMAR,
    "POST /api/v1/tag-groups/": UNIQUE,
    "PATCH /api/v1/tags/{id}/": EXISTS,
    "POST /api/v1/tags/": EXISTS,
    "PATCH /api/v1/tier-ladder/current/": EXISTS,
    "PUT /api/v1/tier-ladder/current/": EXISTS,
    "POST /api/v1/members/{member_id}/tier/floor/": EXISTS,
    "PUT /api/v1/orders/attribution-policy/": f"{ACROSS} (the last-served rule needs its window)",
    "POST /api/v1/attributes/": UNIQUE,
    "POST /api/v1/stores/": f"{UNIQUE}; {EXISTS} (its region)",
    "PATCH /api/v1/stores/{id}/": f"{UNIQUE}; {EXISTS} (its region)",
    "PUT /api/v1/tag-groups/{id}/": UNIQUE,
    "PATCH /api/v1/tag-groups/{id}/": UNIQUE,
    "PUT /api/v1/tags/{id}/": f"{UNIQUE}; {EXISTS}",
    "POST /api/v1/wecom/channel-codes/": f"{EXISTS} (staff of the code's store); {ACROSS} (a staff code has one)",
    "PATCH /api/v1/wecom/channel-codes/{id}/": f"{EXISTS} (staff of the code's store); {ACROSS} (a staff code has one)",
    "POST /api/v1/wecom/handovers/": f"{EXISTS} (staff and their customers); {KEYED}",
    "POST /api/v1/wecom/sync-runs/": KEYED,
    "POST /api/v1/campaigns/": f"{EXISTS} (a segment the caller sees); {ACROSS} (the text's personal fields, the "
                               "channel's length limit, a schedule not in the past)",
    "POST /api/v1/campaigns/{id}/send/": f"{ACROSS} (a schedule not in the past, a segment not empty); {KEYED}",
    "POST /api/v1/campaigns/{id}/resume/": KEYED,
    "POST /api/v1/group-campaigns/": f"{EXISTS} (customer groups, owners and a store the caller reaches); {ACROSS} "
                                     "(one text for every group within WeCom's bytes, a schedule not in the past); "
                                     f"{SCOPE}",
    "POST /api/v1/group-campaigns/{id}/send/": f"{ACROSS} (a schedule not in the past, a group to send to); {KEYED}",
    "POST /api/v1/group-campaigns/{id}/resume/": KEYED,
    "POST /api/v1/campaigns/{campaign_id}/wecom-tasks/{id}/remind/": f"{EXISTS} (a task of the campaign); {KEYED}",
    "PATCH /api/v1/send-policy/current/": f"{ACROSS} (quiet hours need both ends, a day's cap not above the week's)",
}


def _exemptions(schema: Path) -> dict[str, dict[str, str]]:
    """Check name -> {operation: reason}: the lists above, and every list paged by a cursor."""
    paths = json.loads(schema.read_text())["paths"]
    paged = {
        f"GET {path}": CURSOR
        for path, item in paths.items()
        if any(p.get("name") == "cursor" and p.get("in") == "query" for p in item.get("get", {}).get("parameters", []))
    }
    return {
        "negative_data_rejection": NEGATIVE_DATA_REJECTION_EXEMPT,
        "positive_data_acceptance": {**paged, **POSITIVE_DATA_ACCEPTANCE_EXEMPT},
    }


def _config(path: Path, schema: Path) -> Path:
    """schemathesis.toml turning a check off for the exempt operations, and only those."""
    lines = []
    for check, exempt in _exemptions(schema).items():
        for operation in sorted(exempt):
            lines += ["[[operations]]", f"include-name = {json.dumps(operation)}", f"checks.{check}.enabled = false"]
    path.write_text("\n".join(lines))
    return path


def _run(base: str, key: str, schema: Path, report_dir: Path) -> subprocess.CompletedProcess:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    cmd = [
        str(schemathesis),
        "--config-file",
        str(_config(report_dir.parent / "schemathesis.toml", schema)),
        "run",
        str(schema),
        "--url",
        base,
        "-H",
        f"Authorization: Bearer {key}",
        # Every check runs by default; --checks all would override the per-operation exemptions.
        "--phases",
        "examples,coverage,fuzzing",
        "--max-time",
        str(MAX_SECONDS_PER_KEY),
        "--generation-deterministic",
        # NUL characters are refused by design (PostgreSQL cannot store them in text): tested on their own
        # in test_api_input_defences.py.
        "--generation-allow-x00",
        "false",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_SECONDS_PER_KEY * 3, env=env)


@pytest.mark.parametrize("credential", ["brand", "store"])
def test_schemathesis_finds_nothing(served, seeded, tmp_path, credential):
    schema = _schema(served, tmp_path)
    result = _run(served, seeded["keys"][credential], schema, tmp_path / "reports")
    report = result.stdout[-60_000:] + result.stderr[-5_000:]
    assert result.returncode == 0, f"schemathesis ({credential} key) found failures:\n{report}"
