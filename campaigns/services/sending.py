"""The sending engine, run by the periodic tick (campaigns.tasks.tick) on any number of workers.

Per sending campaign: claim due pending deliveries with SELECT ... FOR UPDATE SKIP LOCKED, check the
caps in that transaction (refused: suppressed, cap_reached) and mark the rest sending with a lease;
after commit, render and hand them to the channel; write each answer back (sent; pending again after
a backoff; failed with the provider's answer or after the last attempt). Quiet hours move due rows
to the end of the window; a campaign that is pointless after a time (a notice's `expires_at`: the event
or booking has begun) has its rows still pending suppressed as expired once that time has come or
quiet hours would hold them past it. A transactional campaign (a service notice) is not held to the
caps and takes none of their slots (campaigns.services.respect). A "sending" row whose lease ran out
(a worker died between claim and answer) is settled by asking the channel whether it has it: sent if
so, pending again if not. A campaign is done only when none of its deliveries is pending or sending."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from campaigns import channels, content
from campaigns.channels.base import Outcome, Outgoing, Result
from campaigns.links.services import Tracker
from campaigns.models import (
    ERROR_MAX,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryReason,
    DeliveryState,
    GroupDelivery,
)
from campaigns.queries import personal_values
from campaigns.services import recurrence, respect
from campaigns.services.attachments import Renderer
from members import sql as members_sql
from scrm import events

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
CAMPAIGN = Campaign._meta.db_table
GROUP_DELIVERY = GroupDelivery._meta.db_table
LEASE = dt.timedelta(minutes=5)  # a sending row older than this is settled (its worker is gone)
BACKOFF_BASE, BACKOFF_MAX = 30, 3600  # seconds: 30, 60, 120 ... at most an hour
STATE_CHANGED = "delivery.state_changed"

# delivery.state_changed for the rows a write-back returned (alias w: id, campaign_id, member_id,
# state, reason), in the write's own statement: one more INSERT ... SELECT per written batch.
_STATE_EVENT_SELECT = f"""
    SELECT w.member_id, m.home_store_id, jsonb_build_object(
        'campaign', jsonb_build_object('id', w.campaign_id), 'delivery', jsonb_build_object('id', w.id),
        'channel', c.channel, 'state', w.state, 'reason', w.reason)
    FROM w JOIN {CAMPAIGN} c ON c.id = w.campaign_id JOIN {members_sql.MEMBER} m ON m.id = w.member_id
    ORDER BY w.id"""


def with_state_events(update_sql: str, tail: str, *, now: dt.datetime) -> tuple[str, dict]:
    """`update_sql` (an UPDATE of deliveries d RETURNING at least d.id, d.campaign_id, d.member_id,
    d.state, d.reason, with named parameters) as the CTE w, the delivery.state_changed events of its
    rows as a second CTE, then `tail` over w: (statement, the events' parameters to add). Every
    write of a final state (here, on a cancel, in the WeCom results) goes through it."""
    ev, params = events.insert_sql(STATE_CHANGED, _STATE_EVENT_SELECT, at=now, named=True)
    return f"WITH w AS ({update_sql}), ev AS ({ev}) {tail}", params


@dataclass
class TickReport:
    started: int = 0
    runs: int = 0  # runs of recurring campaigns created
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    capped: int = 0
    deferred: int = 0
    expired: int = 0
    settled: int = 0
    finished: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    send_month: dt.date
    id: int
    member_id: int
    attempts: int
    claimed_at: dt.datetime


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX))


# --- claiming --------------------------------------------------------------------------------------


def _defer_quiet(campaign: Campaign, until: dt.datetime, now: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERY} SET next_attempt_at = %s, reason = %s, updated_at = %s "
            "WHERE campaign_id = %s AND send_month = %s AND state = 'pending' AND next_attempt_at < %s",
            [until, DeliveryReason.QUIET_HOURS.value, now, campaign.pk, campaign.send_month, until],
        )
        return cursor.rowcount


def _set_state(rows: list[Claimed], *, state: str, reason: str, now: dt.datetime, claim: bool = False) -> None:
    if not rows:
        return
    extra = ", claimed_at = %(now)s, attempts = d.attempts + 1" if claim else ""
    update = (f"UPDATE {DELIVERY} d SET state = %(state)s, reason = %(reason)s, updated_at = %(now)s{extra} "
              "FROM unnest(%(months)s::date[], %(ids)s::bigint[]) AS k(send_month, id) "
              "WHERE d.send_month = k.send_month AND d.id = k.id")
    params = {"state": state, "reason": reason, "now": now,
              "months": [r.send_month for r in rows], "ids": [r.id for r in rows]}
    if not claim:  # suppressed: a state receivers hear of (sending is not; its answer is)
        update, ev_params = with_state_events(update + " RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason",
                                      "SELECT count(*) FROM w", now=now)
        params.update(ev_params)
    with connection.cursor() as cursor:
        cursor.execute(update, params)


def _tie(campaign: Campaign) -> str:
    """The channel's tie-break within equally due rows (Channel.claim_order), else none."""
    order = channels.get(campaign.channel).claim_order
    return f", {order}" if order else ""


@transaction.atomic
def claim(campaign: Campaign, *, limit: int, now: dt.datetime, pol) -> tuple[list[Claimed], int]:
    """Claim up to `limit` due deliveries of a sending campaign: (claimed and marked sending, capped)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.send_month, d.id, d.member_id, d.attempts FROM {DELIVERY} d "
            "WHERE d.campaign_id = %s AND d.send_month = %s AND d.state = 'pending' AND d.next_attempt_at <= %s "
            # Paused or cancelled since the tick began: claim nothing more.
            f"AND EXISTS (SELECT 1 FROM {CAMPAIGN} c WHERE c.id = %s AND c.status = 'sending') "
            # In the delivery_open index's order, so the scan stops at `limit` rows (ordering ties by
            # id too sorted every due row of the campaign on each claim: 115 ms at 84k due, 1.9 ms so).
            f"ORDER BY d.next_attempt_at{_tie(campaign)} LIMIT %s FOR UPDATE OF d SKIP LOCKED",
            [campaign.pk, campaign.send_month, now, campaign.pk, limit],
        )
        rows = [Claimed(*row, claimed_at=now) for row in cursor.fetchall()]
    if not rows:
        return [], 0
    counted = respect.counts_toward_caps(campaign.purpose)
    # An erasure, opt-out or withdrawn consent since the fan-out holds for the rows still to send.
    gone = respect.withdrawn([r.member_id for r in rows], now=now, needs_consent=counted,
                             consent_channel=channels.get(campaign.channel).consent_channel)
    if gone:
        by_reason: dict[str, list[Claimed]] = {}
        for r in rows:
            if r.member_id in gone:
                by_reason.setdefault(gone[r.member_id], []).append(r)
        for reason, suppressed in by_reason.items():
            _set_state(suppressed, state=DeliveryState.SUPPRESSED.value, reason=reason, now=now)
        rows = [r for r in rows if r.member_id not in gone]
    allowance = respect.take_slots([r.member_id for r in rows], pol=pol, now=now, counted=counted,
                                   wecom=respect.counts_for_wecom(campaign.channel))
    capped = [rows[i] for i in allowance.refused]
    limited = [rows[i] for i in allowance.limited]
    claimed = [rows[i] for i in allowance.allowed]
    _set_state(capped, state=DeliveryState.SUPPRESSED.value, reason=DeliveryReason.CAP_REACHED.value, now=now)
    _set_state(limited, state=DeliveryState.SUPPRESSED.value, reason=DeliveryReason.WECOM_LIMIT.value, now=now)
    _set_state(claimed, state=DeliveryState.SENDING.value, reason="", now=now, claim=True)
    return ([Claimed(r.send_month, r.id, r.member_id, r.attempts + 1, now) for r in claimed],
            len(capped) + len(limited) + len(gone))


# --- results ---------------------------------------------------------------------------------------


def _write(rows: list[tuple[Claimed, Result]], sql_set: str, params: dict, *,
           guard_claim: bool = True, emit: bool = True) -> list[tuple[int, dt.datetime]]:
    """Apply `sql_set` to the rows still "sending" under this claim (a lease another worker settled
    is not overwritten); the (member id, claimed at) of the rows written. With `emit`, each row
    written is a delivery.state_changed event, in the same statement (a retry, pending again, is not)."""
    if not rows:
        return []
    guard = " AND d.claimed_at = k.claimed_at" if guard_claim else ""
    update = (f"UPDATE {DELIVERY} d SET {sql_set}, updated_at = %(now)s "
              "FROM unnest(%(months)s::date[], %(ids)s::bigint[], %(claims)s::timestamptz[], %(pids)s::text[], "
              "%(errors)s::text[], %(reasons)s::text[]) AS k(send_month, id, claimed_at, pid, error, reason) "
              f"WHERE d.send_month = k.send_month AND d.id = k.id AND d.state = 'sending'{guard} ")
    params = {**params, "months": [c.send_month for c, _ in rows], "ids": [c.id for c, _ in rows],
              "claims": [c.claimed_at for c, _ in rows], "pids": [r.provider_message_id[:128] for _, r in rows],
              "errors": [r.error[:ERROR_MAX] for _, r in rows], "reasons": [r.reason for _, r in rows]}
    if emit:
        update, ev_params = with_state_events(
            update + "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason, k.claimed_at",
            "SELECT member_id, claimed_at FROM w", now=params["now"])
        params.update(ev_params)
    else:
        update += "RETURNING d.member_id, k.claimed_at"
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        return cursor.fetchall()


def _record(pairs: list[tuple[Claimed, Result]], *, now: dt.datetime, pol, report: TickReport,
            guard_claim: bool = True, cancelled: bool = False, wait=backoff, wecom: bool = False,
            counted: bool = True) -> None:
    """Write each result back, in one statement per outcome, and give back the cap slots of sends
    that did not happen (none for a campaign not `counted`: it took none). A retry is due again
    after `wait(attempts)`."""
    done = [(c, r) for c, r in pairs if r.outcome is Outcome.SENT]
    accepted = [(c, r) for c, r in pairs if r.outcome is Outcome.ACCEPTED]  # final once confirmed
    retry = [(c, r) for c, r in pairs if r.outcome is Outcome.RETRY]
    again = [(c, r) for c, r in retry if c.attempts < pol.max_attempts and not cancelled]
    exhausted = [(c, r) for c, r in retry if c.attempts >= pol.max_attempts and not cancelled]
    stopped = [(c, r) for c, r in retry if cancelled]
    failed = [(c, r) for c, r in pairs if r.outcome is Outcome.FAILED]
    unsent: list[tuple[int, dt.datetime]] = []  # cap slots to give back
    with transaction.atomic():
        report.sent += len(_write(done, "state = 'sent', sent_at = %(now)s, provider_message_id = k.pid, "
                                  "reason = '', error = ''", {"now": now}, guard_claim=guard_claim))
        report.sent += len(_write(accepted, "state = 'accepted', provider_message_id = k.pid, reason = '', "
                                  "error = ''", {"now": now}, guard_claim=guard_claim))
        by_attempts: dict[int, list] = {}
        for c, r in again:  # one statement per backoff
            by_attempts.setdefault(c.attempts, []).append((c, r))
        for attempts, rows in by_attempts.items():
            written = _write(rows, "state = 'pending', next_attempt_at = %(at)s, error = k.error",
                             {"now": now, "at": now + wait(attempts)}, guard_claim=guard_claim, emit=False)
            report.retried += len(written)
            unsent += written
        for rows, reason, reason_sql in (
            (exhausted, DeliveryReason.ATTEMPTS_EXHAUSTED, "%(reason)s"),
            (failed, DeliveryReason.PROVIDER_ERROR, "coalesce(nullif(k.reason, ''), %(reason)s)"),
        ):
            written = _write(rows, f"state = 'failed', reason = {reason_sql}, error = k.error",
                             {"now": now, "reason": reason.value}, guard_claim=guard_claim)
            report.failed += len(written)
            unsent += written
        unsent += _write(stopped, "state = 'suppressed', reason = %(reason)s, error = k.error",
                         {"now": now, "reason": DeliveryReason.CANCELLED.value}, guard_claim=guard_claim)
        respect.release(unsent, wecom=wecom, counted=counted)


def _outgoing(campaign: Campaign, claimed: list[Claimed], channel) -> tuple[list[Outgoing], list[Result]]:
    """Render the claimed deliveries; a member who lost the channel's address since the fan-out
    fails with no_identity instead of being sent."""
    values = personal_values([c.member_id for c in claimed], channel.address_sql)
    tracker = Tracker(campaign)  # each link becomes the recipient's tracked link
    attachments = Renderer(campaign, tracker)  # theirs too, in a link attachment
    ready, missing = [], []
    for c in claimed:
        member = values.get(c.member_id)
        if not member or not member["address"]:
            missing.append(Result(c.id, Outcome.FAILED, reason=DeliveryReason.NO_IDENTITY.value))
            continue
        ready.append(Outgoing(c.send_month, c.id, campaign.pk, c.member_id, member["address"],
                              content.render(tracker.text_for(c.member_id), member),
                              attachments=attachments.for_member(c.member_id), attempt=c.attempts))
    return ready, missing


def send_batch(campaign: Campaign, claimed: list[Claimed], *, now: dt.datetime, pol, report: TickReport) -> None:
    channel = channels.get(campaign.channel)
    by_id = {c.id: c for c in claimed}
    ready, results = _outgoing(campaign, claimed, channel)
    try:
        results += channel.send(ready)
    except Exception as exc:  # noqa: BLE001 - an adapter's crash is a retry, never a lost row
        logger.exception("campaign %s: channel %s failed a batch", campaign.pk, channel.code)
        results += [Result(o.delivery_id, Outcome.RETRY, error=f"{type(exc).__name__}: {exc}") for o in ready]
    answered = {r.delivery_id for r in results}
    results += [Result(c.id, Outcome.RETRY, error="no answer from the channel")
                for c in claimed if c.id not in answered]
    _record([(by_id[r.delivery_id], r) for r in results if r.delivery_id in by_id], now=now, pol=pol, report=report,
            wecom=respect.counts_for_wecom(campaign.channel), counted=respect.counts_toward_caps(campaign.purpose))


# --- leases ----------------------------------------------------------------------------------------


def settle_leases(*, now: dt.datetime, pol, report: TickReport, lease: dt.timedelta = LEASE, limit: int = 1000) -> None:
    """Settle "sending" rows whose lease ran out: sent if the channel has them, else pending again
    (or failed after the last attempt; suppressed when the campaign was cancelled)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT d.send_month, d.id, d.member_id, d.attempts, d.claimed_at, d.campaign_id, c.channel, c.status, "
            "c.purpose "
            f"FROM {DELIVERY} d JOIN {CAMPAIGN} c ON c.id = d.campaign_id "
            "WHERE d.state = 'sending' AND d.claimed_at < %s ORDER BY d.claimed_at LIMIT %s "
            "FOR UPDATE OF d SKIP LOCKED",
            [now - lease, limit],
        )
        rows = cursor.fetchall()
        groups: dict[tuple[int, str, str, str], list[Claimed]] = {}
        for month, pk, member_id, attempts, claimed_at, campaign_id, code, status, purpose in rows:
            claimed = Claimed(month, pk, member_id, attempts, claimed_at)
            groups.setdefault((campaign_id, code, status, purpose), []).append(claimed)
        for (campaign_id, code, status, purpose), claimed in groups.items():
            outgoing = [Outgoing(c.send_month, c.id, campaign_id, c.member_id, "", "") for c in claimed]
            known = channels.get(code).settle(outgoing)
            pairs = [(c, known.get(c.id) or Result(c.id, Outcome.RETRY, error="lease expired: not sent"))
                     for c in claimed]
            # A worker that died sent nothing the channel knows of: due again at once.
            _record(pairs, now=now, pol=pol, report=report, cancelled=status == CampaignStatus.CANCELLED,
                    wait=lambda attempts: dt.timedelta(0), wecom=respect.counts_for_wecom(code),
                    counted=respect.counts_toward_caps(purpose))
            report.settled += len(pairs)


# --- campaigns -------------------------------------------------------------------------------------


def start_due(*, now: dt.datetime, report: TickReport) -> None:
    """Start the scheduled campaigns whose time has come (fan-out; a bad segment sends it back to
    approved with the reason)."""
    from campaigns.services import campaigns as lifecycle

    due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        if lifecycle.start_scheduled(campaign_id=pk, now=now):
            report.started += 1


def suppress_cancelled(*, campaign: Campaign, now: dt.datetime) -> int:
    """A cancelled campaign's pending deliveries are suppressed as cancelled, each one an event, in
    one statement (the caller holds the campaign's transaction)."""
    statement, params = with_state_events(
        f"UPDATE {DELIVERY} d SET state = 'suppressed', reason = %(reason)s, updated_at = %(now)s "
        "WHERE d.campaign_id = %(campaign)s AND d.send_month = %(month)s AND d.state = 'pending' "
        "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason",
        "SELECT count(*) FROM w", now=now)
    with connection.cursor() as cursor:
        cursor.execute(statement, {**params, "reason": DeliveryReason.CANCELLED.value, "now": now,
                                   "campaign": campaign.pk, "month": campaign.send_month})
        return cursor.fetchone()[0]


def suppress_expired(*, campaign: Campaign, now: dt.datetime) -> int:
    """A campaign past its point (`expires_at`): its pending deliveries, due now or deferred, are
    suppressed as expired, each one an event, in one statement. Rows being sent finish."""
    statement, params = with_state_events(
        f"UPDATE {DELIVERY} d SET state = 'suppressed', reason = %(reason)s, updated_at = %(now)s "
        "WHERE d.campaign_id = %(campaign)s AND d.send_month = %(month)s AND d.state = 'pending' "
        "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason",
        "SELECT count(*) FROM w", now=now)
    with connection.cursor() as cursor:
        cursor.execute(statement, {**params, "reason": DeliveryReason.EXPIRED.value, "now": now,
                                   "campaign": campaign.pk, "month": campaign.send_month})
        return cursor.fetchone()[0]


def sweep_cancelled(*, now: dt.datetime, within: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Deliveries of campaigns cancelled lately that went back to pending after the cancel (a retry
    answered mid-cancel) are suppressed as cancelled too, so nothing waits forever."""
    statement, params = with_state_events(
        f"UPDATE {DELIVERY} d SET state = 'suppressed', reason = %(reason)s, updated_at = %(now)s FROM {CAMPAIGN} c "
        "WHERE c.status = 'cancelled' AND c.finished_at > %(since)s AND d.campaign_id = c.id "
        "AND d.send_month = c.send_month AND d.state = 'pending' "
        "RETURNING d.id, d.campaign_id, d.member_id, d.state, d.reason",
        "SELECT count(*) FROM w", now=now)
    with connection.cursor() as cursor:
        cursor.execute(statement, {**params, "reason": DeliveryReason.CANCELLED.value, "now": now,
                                   "since": now - within})
        return cursor.fetchone()[0]


def finish(*, now: dt.datetime) -> int:
    """Mark done every sending campaign with no delivery pending, sending or waiting for a staff
    member's confirmation (accepted)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CAMPAIGN} c SET status = 'done', finished_at = %s, updated_at = %s "
            "WHERE c.status = 'sending' AND NOT EXISTS (SELECT 1 FROM "
            f"{DELIVERY} d WHERE d.campaign_id = c.id AND d.send_month = c.send_month "
            "AND d.state IN ('pending', 'sending', 'accepted')) "
            f"AND NOT EXISTS (SELECT 1 FROM {GROUP_DELIVERY} g WHERE g.campaign_id = c.id "
            "AND g.state IN ('pending', 'sending', 'accepted'))",
            [now, now],
        )
        return cursor.rowcount


def run_campaign(campaign: Campaign, *, pol, report: TickReport, deadline: float, now_fn=timezone.now) -> None:
    channel = channels.get(campaign.channel)
    if getattr(channel, "sends_to_groups", False):  # customer groups: no member deliveries to claim
        channel.run(campaign, now=now_fn())
        return
    while time.monotonic() < deadline:
        now = now_fn()
        until = respect.quiet_until(pol, now)
        # Pointless from `expires_at` on: nothing pending may go out then, and a deferral to the end of
        # quiet hours that lands at or after it would only send it late.
        if campaign.expires_at is not None and max(now, until or now) >= campaign.expires_at:
            report.expired += suppress_expired(campaign=campaign, now=now)
            return
        if until is not None:
            report.deferred += _defer_quiet(campaign, until, now)
            return
        claimed, capped = claim(campaign, limit=channel.batch_size, now=now, pol=pol)
        report.capped += capped
        if not claimed:
            if not capped:
                return
            continue
        report.claimed += len(claimed)
        send_batch(campaign, claimed, now=now, pol=pol, report=report)


def tick(*, budget: float = 8.0, lease: dt.timedelta = LEASE, now_fn=timezone.now) -> TickReport:
    """One pass of the engine: start due campaigns, settle expired leases, send what is due (within
    `budget` seconds), mark finished campaigns done. Safe on any number of workers at once."""
    report = TickReport()
    deadline = time.monotonic() + budget
    pol = respect.policy()
    report.runs = recurrence.create_due_runs(now=now_fn())  # a series' due runs, started just below
    start_due(now=now_fn(), report=report)
    settle_leases(now=now_fn(), pol=pol, report=report, lease=lease)
    for campaign in Campaign.objects.filter(status=CampaignStatus.SENDING).order_by("scheduled_at", "pk"):
        run_campaign(campaign, pol=pol, report=report, deadline=deadline, now_fn=now_fn)
    sweep_cancelled(now=now_fn())
    report.finished = finish(now=now_fn())
    return report
