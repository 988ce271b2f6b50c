"""Sends at size, shared by the campaign benchmark and the reliability tests: members seeded in a few
set-based statements, a campaign started over all of them, and the ledger check every send must pass
(one outbox message or one recorded reason per recipient, nothing lost, nothing twice).

The seeded mix, by member number g (1-based) and k = g % 50: k == 7 opted out, k == 13 no consent
answer, k == 21 no phone and no identity, k == 33 no phone but a WeCom identity (reachable through
it), g % 400 == 0 a minor without guardian consent; everyone else has a phone and consents."""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction
from django.utils import timezone

BATCH = 250_000  # members per INSERT: the segment index triggers handle this size well
EXPECTED_REASONS = ("opted_out", "no_consent", "no_identity", "minor_no_guardian")


def execute(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else cursor.rowcount


def seed_members(n: int, *, store_ids: list[int]) -> tuple[int, int]:
    """N members with their consent answers and identities; the (first, last) member id."""
    base = execute("SELECT coalesce(max(id), 0) FROM members_member")[0][0]
    stores = "{" + ",".join(map(str, store_ids)) + "}"
    minor = timezone.localdate().replace(year=timezone.localdate().year - 10, day=1)
    for lo in range(1, n + 1, BATCH):
        hi = min(n, lo + BATCH - 1)
        with transaction.atomic():
            execute(f"""
                INSERT INTO members_member (id, name, phone, gender, birthday, source, stage, created_at, updated_at,
                                            home_store_id, attributes)
                SELECT %(base)s + g, '会员' || g,
                       CASE WHEN g %% 50 IN (21, 33) THEN '' ELSE '+86139' || lpad(g::text, 8, '0') END,
                       'u', CASE WHEN g %% 400 = 0 THEN %(minor)s::date END, 'import', 'aware', now(), now(),
                       ('{stores}'::bigint[])[1 + g %% {len(store_ids)}], '{{}}'
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g""",
                    {"base": base, "lo": lo, "hi": hi, "minor": minor})
            execute("""
                INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at)
                SELECT %(base)s + g, 'marketing', 'all', g %% 50 <> 7, now()
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g WHERE g %% 50 <> 13""",
                    {"base": base, "lo": lo, "hi": hi})
            execute("""
                INSERT INTO members_identity (member_id, channel, namespace, external_id, created_at)
                SELECT %(base)s + g, 'wecom', '', 'wm' || (%(base)s + g), now()
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g WHERE g %% 50 = 33""",
                    {"base": base, "lo": lo, "hi": hi})
    execute("SELECT setval(pg_get_serial_sequence('members_member', 'id'), (SELECT max(id) FROM members_member))")
    return base + 1, base + n


def expected_reasons(n: int) -> dict[str, int]:
    """How many of n seeded members fan-out suppresses, by reason (first reason first, as fan-out)."""
    counts = dict.fromkeys(EXPECTED_REASONS, 0)
    for g in range(1, n + 1):
        k = g % 50
        if k == 7:
            counts["opted_out"] += 1
        elif k == 13:
            counts["no_consent"] += 1
        elif g % 400 == 0:
            counts["minor_no_guardian"] += 1
        elif k == 21:
            counts["no_identity"] += 1
    return counts


def checked_policy(**overrides):
    """Caps on, high enough not to refuse one send per member (but counted and checked), and quiet
    hours on, placed so that now is outside them."""
    from campaigns.models import SendPolicy

    local = timezone.localtime()
    start = (local + dt.timedelta(hours=6)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=7)).time().replace(second=0, microsecond=0)
    values = {"daily_cap": 5, "weekly_cap": 20, "monthly_cap": 60, "quiet_start": start, "quiet_end": end,
              "max_attempts": 20, **overrides}
    return SendPolicy.objects.update_or_create(pk=1, defaults=values)[0]


def operator():
    from scrm.models import User

    return User.objects.get_or_create(username="send_operator", defaults={"role": "operator"})[0]


def stores(count: int = 5) -> list[int]:
    from scrm.models import Region, Store

    region, _ = Region.objects.get_or_create(code="send", defaults={"name": "Send"})
    return [Store.objects.get_or_create(code=f"S{i:02d}", defaults={"name": f"Store {i}", "region": region,
                                                                    "city": "上海"})[0].pk for i in range(count)]


def start_campaign(*, name: str = "send", channel: str = "outbox", content: str = "{name}, 春季新品到店",
                   segment=None) -> tuple[object, float]:
    """A campaign over all members, approved and sent (fan-out done): (campaign, fan-out seconds)."""
    from campaigns.services import campaigns as lifecycle
    from members.segments import services as segment_services

    actor = operator()
    if segment is None:
        segment = segment_services.create_segment(actor=actor, name=f"all {name}", definition={"all": []})
    campaign = lifecycle.create_campaign(actor=actor, data=lifecycle.CampaignInput(
        name=name, segment_id=segment.pk, channel=channel, content=content))
    lifecycle.approve(campaign=campaign, actor=actor)
    started = time.perf_counter()
    campaign = lifecycle.send(campaign=campaign, actor=actor)
    return campaign, time.perf_counter() - started


# --- the ledger ------------------------------------------------------------------------------------


def ledger(cursor, campaign_id: int) -> dict:
    """What a send left behind, read with `cursor` (any DB-API cursor on the campaign's database)."""
    def one(sql):
        cursor.execute(sql, {"c": campaign_id})
        return cursor.fetchall()

    # Fresh statistics: right after a send the planner would take the outbox for a few rows.
    cursor.execute("ANALYZE campaigns_delivery, campaigns_outboxmessage")

    states = dict(one("SELECT state, count(*) FROM campaigns_delivery WHERE campaign_id = %(c)s GROUP BY 1"))
    reasons = dict(one("SELECT reason, count(*) FROM campaigns_delivery WHERE campaign_id = %(c)s "
                       "AND state <> 'sent' GROUP BY 1"))
    return {
        "status": one("SELECT status FROM campaigns_campaign WHERE id = %(c)s")[0][0],
        "deliveries": sum(states.values()),
        "states": states,
        "reasons": reasons,
        "outbox": one("SELECT count(*) FROM campaigns_outboxmessage WHERE campaign_id = %(c)s")[0][0],
        "members_twice": one("SELECT count(*) FROM (SELECT member_id FROM campaigns_outboxmessage "
                             "WHERE campaign_id = %(c)s GROUP BY 1 HAVING count(*) > 1) x")[0][0],
        "deliveries_twice": one("SELECT count(*) FROM (SELECT member_id FROM campaigns_delivery "
                                "WHERE campaign_id = %(c)s GROUP BY 1 HAVING count(*) > 1) x")[0][0],
        # Sent rows whose outbox message is missing or is not the one the delivery names, and outbox
        # messages of members whose delivery is not sent.
        "sent_without_message": one(
            "SELECT count(*) FROM campaigns_delivery d LEFT JOIN campaigns_outboxmessage o "
            "ON o.campaign_id = d.campaign_id AND o.member_id = d.member_id "
            "WHERE d.campaign_id = %(c)s AND d.state = 'sent' "
            "AND (o.id IS NULL OR d.provider_message_id <> 'outbox:' || o.id)")[0][0],
        "message_without_sent": one(
            "SELECT count(*) FROM campaigns_outboxmessage o LEFT JOIN campaigns_delivery d "
            "ON d.campaign_id = o.campaign_id AND d.member_id = o.member_id AND d.state = 'sent' "
            "WHERE o.campaign_id = %(c)s AND d.id IS NULL")[0][0],
        "unsent_without_reason": one("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %(c)s "
                                     "AND state NOT IN ('sent', 'pending', 'sending') AND reason = ''")[0][0],
    }


def problems(found: dict, *, members: int, expected: dict[str, int] | None = None) -> list[str]:
    """What is wrong with a finished send (empty: every recipient has exactly one message or one
    reason, none lost, none twice, and the campaign is done)."""
    wrong = []
    states = found["states"]
    if found["status"] != "done":
        wrong.append(f"campaign is {found['status']}, not done")
    if found["deliveries"] != members or found["deliveries_twice"]:
        wrong.append(f"{found['deliveries']} deliveries for {members} members ({found['deliveries_twice']} twice)")
    if states.get("pending") or states.get("sending"):
        wrong.append(f"left open: {states.get('pending', 0)} pending, {states.get('sending', 0)} sending")
    if found["members_twice"]:
        wrong.append(f"{found['members_twice']} members have more than one outbox message")
    if found["outbox"] != states.get("sent", 0):
        wrong.append(f"{found['outbox']} outbox messages but {states.get('sent', 0)} deliveries sent")
    if found["sent_without_message"] or found["message_without_sent"]:
        wrong.append(f"{found['sent_without_message']} sent without their message, "
                     f"{found['message_without_sent']} messages without a sent delivery")
    if found["unsent_without_reason"]:
        wrong.append(f"{found['unsent_without_reason']} unsent deliveries without a reason")
    if expected is not None:
        unsent = {reason: n for reason, n in found["reasons"].items() if n}
        if unsent != {reason: n for reason, n in expected.items() if n}:
            wrong.append(f"reasons {unsent}, expected {expected} (anything else was lost or refused)")
    return wrong


def cap_slots(cursor) -> int:
    """Sends counted against the caps, all days: one per sent delivery when nothing leaked."""
    cursor.execute("SELECT coalesce(sum(count), 0) FROM campaigns_membersendday")
    return int(cursor.fetchone()[0])
