"""Member respect under a mixed send, proven over the ledger: a 100,000-member campaign (outbox) sent
beside three others overlapping it (an SMS-consent channel to two stores, a store's own campaign, a
two-store campaign with a holdout) by two real tick-loop processes at once, with the caps at one a
day through a season active today (the policy out of season allows three), quiet hours on when the
loops start, members opted out (for every channel, or for SMS only, or granted SMS only), without
consent, minors without a guardian's consent (and some with it), members erased before the fan-out,
and members who opt out or are erased after it, while the send waits.

Afterwards SQL over every delivery and MemberSendDay checks: no member got more than any cap on any
day (the season's on its days), the day counts equal the messages sent, nothing was sent inside
quiet hours, no opted-out, non-consenting, minor or erased member was sent anything (the most
specific consent deciding, as the fan-out does), every suppressed or failed delivery carries the
reason that is true of its member, and every delivery has exactly one final state.

SIYU_RESPECT_MEMBERS sets the size (100,000 by default). The checks fail on a broken rule: with the
season's caps ignored (caps_on returning the policy's) the cap check finds members with three
messages a day; with quiet hours ignored the quiet check finds the sends made inside them."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import channels
from campaigns.channels.outbox import OutboxChannel
from campaigns.models import Campaign, Delivery, DeliveryReason, MemberSendDay, Season, SendPolicy
from campaigns.services import campaigns as lifecycle
from campaigns.services import respect, sending
from campaigns.services import seasons as season_service
from campaigns.services.fanout import _minor_cutoff
from members.models import ConsentPurpose, Member
from members.segments import services as segment_services
from members.services import consent as consent_service
from members.services import privacy
from tests.campaigns import load

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
TICKLOOP = str(ROOT / "tests" / "campaigns" / "tickloop.py")
MEMBERS = int(os.environ.get("SIYU_RESPECT_MEMBERS") or 100_000)
QUIET_SECONDS = 4  # quiet hours end this long after the loops are told to go
DONE_WITHIN = 240
POLICY_CAPS = (3, 6, 12)  # out of season
SEASON_CAPS = (1, 2, 4)  # the season active today: one a day
MID_SEND_OPT_OUTS, MID_SEND_ERASURES = 15, 10


class SmsConsentOutbox(OutboxChannel):
    """The outbox under SMS consent: a member's SMS answer, else their answer for all channels, decides;
    the address is the phone alone."""

    code = "respect_sms"
    label = "SMS-consent outbox"
    consent_channel = "sms"

    def address_sql(self, member: str) -> str:
        return f"nullif({member}.phone, '')"


def register() -> None:  # the tick loops load it with --channels
    channels.register(SmsConsentOutbox())


# --- the send ------------------------------------------------------------------------------------


def _db_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def _mix(base: int) -> None:
    """Beyond load.seed_members' mix (member g: g % 50 == 7 opted out, 13 no answer, 21 no address,
    33 a WeCom identity only, g % 400 == 0 a minor): g % 50 == 3 opted out of SMS only; g % 100 == 7
    (opted out of all) granted SMS; g % 800 == 0 (a minor) with a guardian's consent; g % 50 == 41
    erased before the fan-out."""
    params = {"base": base, "n": MEMBERS}
    load.execute("""
        INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at)
        SELECT %(base)s + g, 'marketing', 'sms', g %% 50 <> 3, now() FROM generate_series(1, %(n)s) AS g
        WHERE g %% 50 = 3 OR g %% 100 = 7""", params)
    load.execute("""
        INSERT INTO members_consent (member_id, purpose, channel, granted, updated_at)
        SELECT %(base)s + g, 'guardian', 'all', true, now() FROM generate_series(1, %(n)s) AS g
        WHERE g %% 800 = 0""", params)
    load.execute("""
        UPDATE members_member SET erased_at = now(), name = '', phone = '', birthday = NULL
        WHERE id - %(base)s BETWEEN 1 AND %(n)s AND (id - %(base)s) %% 50 = 41""", params)
    # No ANALYZE here: the member tables' statistics are still the empty tables' (stale_statistics), and
    # the fan-out must see that and analyse them itself, as after any big import autovacuum has not
    # reached yet (planned on them, the claims looped over every member: not done after 240 s).


def _start(actor, name, channel, definition, *, store_id=None, holdout="0"):
    from decimal import Decimal

    from scrm.models import Store

    segment = segment_services.create_segment(actor=actor, name=f"respect {name}", definition=definition)
    campaign = lifecycle.create_campaign(actor=actor, data=lifecycle.CampaignInput(
        name=name, segment_id=segment.pk, channel=channel, content="{name}, 情人节限定礼盒到店",
        holdout_share=Decimal(holdout), store=Store.objects.get(pk=store_id) if store_id else None))
    lifecycle.approve(campaign=campaign, actor=actor)
    return lifecycle.send(campaign=campaign, actor=actor)


def _changes_after_fan_out(actor, big: Campaign) -> tuple[list[int], list[int]]:
    """Members of the big send, still pending, who opt out of everything or are erased meanwhile."""
    pending = list(Delivery.objects.filter(campaign=big, state="pending").order_by("member_id")
                   .values_list("member_id", flat=True)[: (MID_SEND_OPT_OUTS + MID_SEND_ERASURES) * 97: 97])
    opted, erased = pending[:MID_SEND_OPT_OUTS], pending[MID_SEND_OPT_OUTS:]
    for member in Member.objects.filter(pk__in=opted):
        consent_service.set_consent(member=member, purpose=ConsentPurpose.MARKETING, granted=False, actor=actor,
                                    source="respect proof")
    for member in Member.objects.filter(pk__in=erased):
        privacy.erase_member(member=member, actor=actor, reason="respect proof")
    return opted, erased


class Loops:
    def __init__(self) -> None:
        self.env = {**os.environ, "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(ROOT)}
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, TICKLOOP, "tick", "--wait-go", "--channels", __name__, "--idle", "0.05",
             "--max-seconds", str(DONE_WITHIN + 60)],
            env=self.env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        line = proc.stdout.readline().strip()
        if line != "ready":
            proc.kill()
            raise AssertionError(f"a tick loop said {line!r}: {proc.communicate(timeout=10)[1][-3000:]}")
        return proc

    def go(self) -> None:
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()

    def stop(self) -> list[str]:
        outputs = []
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                out, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate(timeout=10)
            outputs.append(out + err[-2000:])
        return outputs


@pytest.fixture
def loops():
    running = Loops()
    yield running
    for proc in running.procs:
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


@pytest.fixture
def stale_statistics():
    """The member tables analysed while empty, autovacuum kept away until the test ends: the
    statistics a big import leaves before autovacuum analyses the tables."""
    from campaigns.services.fanout import MEMBER_TABLES

    for table in MEMBER_TABLES:
        load.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    load.execute(f"ANALYZE {', '.join(MEMBER_TABLES)}")
    yield
    for table in MEMBER_TABLES:
        load.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


@pytest.fixture
def sms_channel():
    register()
    yield
    channels._CHANNELS.pop(SmsConsentOutbox.code, None)


# --- the checks ----------------------------------------------------------------------------------


def one(sql: str, params=None):
    rows = load.execute(sql, params)
    return rows[0][0] if rows else None


def _caps_table(days: list[dt.date]) -> tuple[str, list]:
    """A VALUES list of (day, daily, weekly, monthly): the caps that held on each day."""
    pol = respect.policy()
    rows, params = [], []
    for day in days:
        rows.append("(%s::date, %s::int, %s::int, %s::int)")
        params += [day, *respect.caps_on(pol, day)]
    return "(VALUES " + ", ".join(rows) + ") AS caps(day, daily, weekly, monthly)", params


# Counts per member and local day, with the sums over the 7 and 30 days ending that day.
WINDOWS = """
    SELECT member_id, day, n,
           sum(n) OVER (PARTITION BY member_id ORDER BY day RANGE BETWEEN INTERVAL '6 days' PRECEDING AND CURRENT ROW)
               AS week,
           sum(n) OVER (PARTITION BY member_id ORDER BY day RANGE BETWEEN INTERVAL '29 days' PRECEDING AND CURRENT ROW)
               AS month
    FROM ({counts}) AS c"""
SENT_PER_DAY = ("SELECT member_id, (sent_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n "
                "FROM campaigns_delivery WHERE state = 'sent' GROUP BY 1, 2")
SEND_DAYS = "SELECT member_id, day, count AS n FROM campaigns_membersendday WHERE count > 0"


def over_caps(counts_sql: str, tz: str) -> list:
    """Member-days over a cap that held that day: (member, day, day/week/month counts, caps)."""
    days = [row[0] for row in load.execute(f"SELECT DISTINCT day FROM ({counts_sql}) x", {"tz": tz})]
    if not days:
        return []
    caps, caps_params = _caps_table(days)
    windows = WINDOWS.format(counts=counts_sql.replace("%(tz)s", "%s"))
    return load.execute(
        f"SELECT w.member_id, w.day, w.n, w.week, w.month, caps.daily, caps.weekly, caps.monthly FROM ({windows}) w "
        f"JOIN {caps} ON caps.day = w.day WHERE (caps.daily > 0 AND w.n > caps.daily) "
        "OR (caps.weekly > 0 AND w.week > caps.weekly) OR (caps.monthly > 0 AND w.month > caps.monthly) LIMIT 5",
        [tz] * counts_sql.count("%(tz)s") + caps_params)


# The effective marketing answer of each delivery's member for its campaign's channel, as fan-out reads it.
RECIPIENTS = """
    FROM campaigns_delivery d
    JOIN ({channels}) AS cc(campaign_id, consent_channel, store_id) ON cc.campaign_id = d.campaign_id
    JOIN members_member m ON m.id = d.member_id
    LEFT JOIN members_consent mc ON mc.member_id = m.id AND mc.purpose = 'marketing' AND mc.channel = cc.consent_channel
    LEFT JOIN members_consent ma ON ma.member_id = m.id AND ma.purpose = 'marketing' AND ma.channel = 'all'
    CROSS JOIN LATERAL (SELECT coalesce(mc.granted, ma.granted) AS granted,
        m.birthday > %(cutoff)s AND NOT EXISTS (SELECT 1 FROM members_consent g WHERE g.member_id = m.id
            AND g.purpose = 'guardian' AND g.granted) AS minor) AS k"""


def _channels_sql(campaigns: list[Campaign]) -> str:
    return "VALUES " + ", ".join(
        f"({c.pk}, '{channels.get(c.channel).consent_channel}', {c.store_id or 'NULL'}::bigint)" for c in campaigns)


def test_a_100k_send_mixed_with_three_others_respects_every_member(stale_statistics, loops, sms_channel):
    started = time.perf_counter()
    tz = settings.TIME_ZONE
    today = timezone.localdate()
    actor = load.operator()
    store_ids = load.stores(5)
    first, _last = load.seed_members(MEMBERS, store_ids=store_ids)
    base = first - 1
    _mix(base)
    caps = ("daily_cap", "weekly_cap", "monthly_cap")
    SendPolicy.objects.update_or_create(pk=1, defaults={**dict(zip(caps, POLICY_CAPS, strict=True)),
                                                        "quiet_start": None, "quiet_end": None, "max_attempts": 5})
    season_service.save_season(actor=actor, values={
        "name": "Valentine's", "start_month": today.month, "start_day": today.day,
        "end_month": (today + dt.timedelta(days=3)).month, "end_day": (today + dt.timedelta(days=3)).day,
        **dict(zip(caps, SEASON_CAPS, strict=True))})
    assert respect.caps_on(respect.policy(), today) == SEASON_CAPS
    seeded = time.perf_counter()

    def stores_in(*indexes):
        return {"all": [{"field": "home_store", "op": "in", "value": [store_ids[i] for i in indexes]}]}

    big = _start(actor, "big", "outbox", {"all": []})
    # Member g's store is store_ids[g % 5]: the SMS send's stores hold the SMS-only answers (g % 50 == 3,
    # g % 100 == 7), the holdout's the minors (g % 400 == 0).
    sms = _start(actor, "sms", SmsConsentOutbox.code, stores_in(2, 3))
    store = _start(actor, "store", "outbox", {"all": []}, store_id=store_ids[4])
    holdout = _start(actor, "holdout", "outbox", stores_in(0, 1), holdout="0.1")
    campaigns = [big, sms, store, holdout]
    opted, erased = _changes_after_fan_out(actor, big)
    fanned = time.perf_counter()

    loops.start()
    loops.start()
    # Quiet hours from a minute ago until shortly after the loops start ticking.
    local_now = timezone.localtime()
    quiet_end_at = local_now + dt.timedelta(seconds=QUIET_SECONDS)
    SendPolicy.objects.filter(pk=1).update(quiet_start=(local_now - dt.timedelta(minutes=1)).time(),
                                           quiet_end=quiet_end_at.time())
    went = timezone.now()
    loops.go()
    deferred_seen = 0
    deadline = time.monotonic() + DONE_WITHIN
    while time.monotonic() < deadline:
        if timezone.now() < quiet_end_at:
            deferred_seen = max(deferred_seen, one(
                "SELECT count(*) FROM campaigns_delivery WHERE state = 'pending' AND reason = %s",
                [DeliveryReason.QUIET_HOURS.value]))
        if Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).exclude(status="done").count() == 0:
            break
        time.sleep(0.25)
    sent_done = time.perf_counter()
    outputs = loops.stop()
    # The loops' own count of the rows they deferred: on a loaded machine their first tick may commit
    # its deferral only after the window the polling above watched had passed.
    deferred_seen = max(deferred_seen, sum(
        int(word.removeprefix("deferred=")) for out in outputs for word in out.split() if word.startswith("deferred=")))
    statuses = dict(Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).values_list("name", "status"))
    assert set(statuses.values()) == {"done"}, (statuses, outputs)

    pol = SendPolicy.objects.get(pk=1)
    wrong: list[str] = []
    load.execute("ANALYZE campaigns_delivery, campaigns_membersendday, campaigns_outboxmessage")

    # Exactly one final state (or reason) per delivery, one delivery per member and campaign.
    states_open = one("SELECT count(*) FROM campaigns_delivery WHERE state IN ('pending', 'sending', 'accepted')")
    twice = one("SELECT count(*) FROM (SELECT 1 FROM campaigns_delivery GROUP BY campaign_id, member_id "
                "HAVING count(*) > 1) x")
    bad_reason = one(
        "SELECT count(*) FROM campaigns_delivery WHERE (state IN ('sent', 'held_out') AND reason <> '') "
        "OR (state IN ('suppressed', 'failed') AND NOT reason = ANY(%s))", [list(DeliveryReason.values)])
    if states_open or twice or bad_reason:
        wrong.append(f"{states_open} deliveries left open, {twice} members twice in a campaign, "
                     f"{bad_reason} with a state and reason that do not go together")
    with connection.cursor() as cursor:
        for campaign in campaigns:
            found = load.ledger(cursor, campaign.pk)
            found["unsent_without_reason"] -= found["states"].get("held_out", 0)  # held out: no reason, checked above
            wrong += [f"{campaign.name}: {p}" for p in load.problems(found, members=found["deliveries"])]

    # No member over any cap on any day (the season's on its days), and the day counts are the sends.
    for label, counts in (("sent deliveries", SENT_PER_DAY), ("MemberSendDay", SEND_DAYS)):
        over = over_caps(counts, tz)
        if over:
            wrong.append(f"over a cap by {label} (member, day, day/week/month counts, caps): {over}")
    mismatched = one(
        f"SELECT count(*) FROM ({SENT_PER_DAY}) s FULL JOIN ({SEND_DAYS}) c "
        "ON c.member_id = s.member_id AND c.day = s.day WHERE coalesce(s.n, 0) <> coalesce(c.n, 0)", {"tz": tz})
    if mismatched:
        wrong.append(f"{mismatched} member-days whose MemberSendDay count is not the messages sent")

    # Nothing sent inside quiet hours (a window may run past midnight).
    start, end = pol.quiet_start, pol.quiet_end
    inside = ("t >= %(start)s AND t < %(end)s" if start < end else "(t >= %(start)s OR t < %(end)s)")
    in_quiet = one(f"SELECT count(*) FROM (SELECT (sent_at AT TIME ZONE %(tz)s)::time AS t FROM campaigns_delivery "
                   f"WHERE state = 'sent') x WHERE {inside}", {"tz": tz, "start": start, "end": end})
    first_sent = one("SELECT min(sent_at) FROM campaigns_delivery WHERE state = 'sent'")
    if in_quiet or first_sent < quiet_end_at:
        wrong.append(f"{in_quiet} sent inside quiet hours {start}-{end}; the first at {first_sent}, "
                     f"quiet hours ended {quiet_end_at}")

    # No opted-out, non-consenting, minor or erased member was sent anything.
    params = {"cutoff": _minor_cutoff(today), "tz": tz}
    recipients = RECIPIENTS.format(channels=_channels_sql(campaigns))
    forbidden = load.execute(
        "SELECT count(*) FILTER (WHERE m.erased_at IS NOT NULL), count(*) FILTER (WHERE m.merged_into_id IS NOT NULL), "
        "count(*) FILTER (WHERE k.granted = false), count(*) FILTER (WHERE k.granted IS NULL), "
        "count(*) FILTER (WHERE k.minor), "
        "count(*) FILTER (WHERE cc.store_id IS NOT NULL AND m.home_store_id IS DISTINCT FROM cc.store_id) "
        f"{recipients} WHERE d.state = 'sent'", params)[0]
    if any(forbidden):
        wrong.append("sent to members who must not get it (erased, merged, opted out, no consent, minor, "
                     f"other store): {forbidden}")

    # Each suppressed or failed delivery's reason is true of its member.
    caps_days, caps_params = _caps_table([today, today + dt.timedelta(days=1)])
    untrue = load.execute(
        "SELECT d.reason, count(*) " + recipients.replace("%(cutoff)s", "%s") +
        f" LEFT JOIN ({WINDOWS.format(counts=SEND_DAYS)}) w ON w.member_id = d.member_id "
        "AND w.day = (d.updated_at AT TIME ZONE %s)::date "
        f"LEFT JOIN {caps_days} ON caps.day = (d.updated_at AT TIME ZONE %s)::date "
        "WHERE d.state IN ('suppressed', 'failed') AND NOT CASE d.reason "
        "WHEN 'erased' THEN m.erased_at IS NOT NULL "
        "WHEN 'opted_out' THEN k.granted = false "
        "WHEN 'no_consent' THEN k.granted IS NULL "
        "WHEN 'minor_no_guardian' THEN k.minor "
        "WHEN 'not_in_store' THEN m.home_store_id IS DISTINCT FROM cc.store_id "
        "WHEN 'no_identity' THEN coalesce(m.phone, '') = '' AND (cc.consent_channel = 'sms' "
        "OR NOT EXISTS (SELECT 1 FROM members_identity i WHERE i.member_id = m.id)) "
        "WHEN 'cap_reached' THEN coalesce((caps.daily > 0 AND w.n >= caps.daily) "
        "OR (caps.weekly > 0 AND w.week >= caps.weekly) OR (caps.monthly > 0 AND w.month >= caps.monthly), false) "
        "ELSE false END GROUP BY 1",
        [_minor_cutoff(today), tz, *caps_params, tz])
    if untrue:
        wrong.append(f"reasons not true of their members: {untrue}")

    # The mix was really exercised: every rule refused someone and the holdout held some out.
    reasons = dict(load.execute("SELECT reason, count(*) FROM campaigns_delivery WHERE reason <> '' GROUP BY 1"))
    held_out = one("SELECT count(*) FROM campaigns_delivery WHERE state = 'held_out'")
    expected = {"opted_out", "no_consent", "minor_no_guardian", "no_identity", "cap_reached", "erased"}
    if not expected <= set(reasons) or not held_out:
        wrong.append(f"the mix did not exercise every rule: reasons {reasons}, held out {held_out}")
    mid_send = dict(load.execute("SELECT member_id, reason FROM campaigns_delivery WHERE campaign_id = %s "
                                 "AND member_id = ANY(%s)", [big.pk, opted + erased]))
    if {mid_send.get(m) for m in opted} != {"opted_out"} or {mid_send.get(m) for m in erased} != {"erased"}:
        wrong.append(f"answers given after the fan-out not held: {mid_send}")
    sms_only = one(f"SELECT count(*) {recipients} WHERE d.campaign_id = %(sms)s AND d.state = 'sent' "
                   "AND (m.id - %(base)s) %% 100 = 7", {**params, "sms": sms.pk, "base": base})
    sms_opted_out_sent_big = one(
        f"SELECT count(*) {recipients} WHERE d.campaign_id = %(big)s AND d.state = 'sent' "
        "AND (m.id - %(base)s) %% 50 = 3", {**params, "big": big.pk, "base": base})
    guardians = one(f"SELECT count(*) {recipients} WHERE d.state = 'sent' AND (m.id - %(base)s) %% 800 = 0",
                    {**params, "base": base})
    if not sms_only or not sms_opted_out_sent_big or not guardians or not deferred_seen:
        wrong.append(f"{sms_only} sent SMS though opted out of all but granted SMS, {sms_opted_out_sent_big} sent "
                     f"the outbox though opted out of SMS, {guardians} minors with a guardian's consent sent, "
                     f"{deferred_seen} deferred in quiet hours: each should be some")

    finished = time.perf_counter()
    sent_total = one("SELECT count(*) FROM campaigns_delivery WHERE state = 'sent'")
    timings = (f"{MEMBERS} members: seed {seeded - started:.1f} s, fan-outs {fanned - seeded:.1f} s, "
               f"send {sent_done - fanned:.1f} s ({sent_total} sent by two loops), checks "
               f"{finished - sent_done:.1f} s, total {finished - started:.1f} s")
    print(timings)
    for line in wrong:
        print("WRONG:", line)
    assert not wrong, [*wrong, timings, *outputs]
    assert went < quiet_end_at
    assert MemberSendDay.objects.exists() and Season.objects.count() == 1


# --- the claim's own recheck, small --------------------------------------------------------------


def test_an_answer_given_after_the_fan_out_holds_for_the_deliveries_still_to_send(audience, make_campaign, policy,
                                                                                   alice):
    a, b = audience
    campaign = make_campaign()
    opted, erased, minor = a[0], a[1], b[0]
    consent_service.set_consent(member=opted, purpose=ConsentPurpose.MARKETING, granted=False, actor=alice)
    privacy.erase_member(member=erased, actor=alice, reason="asked")
    Member.objects.filter(pk=minor.pk).update(birthday=timezone.localdate().replace(year=2020))
    sending.tick()
    rows = {d.member_id: (d.state, d.reason) for d in Delivery.objects.filter(campaign=campaign)}
    assert rows[opted.pk] == ("suppressed", "opted_out")
    assert rows[erased.pk] == ("suppressed", "erased")
    assert rows[minor.pk] == ("suppressed", "minor_no_guardian")
    assert {rows[m.pk] for m in (a[2], b[1])} == {("sent", "")}
    assert set(MemberSendDay.objects.values_list("member_id", flat=True)) == {a[2].pk, b[1].pk}
