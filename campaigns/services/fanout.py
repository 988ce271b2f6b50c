"""Fan-out: when a campaign starts sending, its segment is snapshotted and every member becomes a
delivery in one INSERT ... SELECT (idempotent: ON CONFLICT DO NOTHING), each either pending, held out
(the holdout, chosen by a stable hash of campaign and member below the share) or suppressed with its
reason, decided in the same statement. `insert_deliveries` is the same statement for a list of
members code hands over (a journey's step, a service notice)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import channels, partitions
from campaigns.models import Campaign, Delivery, DeliveryReason, DeliveryState
from campaigns.services.respect import counts_toward_caps
from members import sql as members_sql
from members.models import ConsentPurpose
from members.segments import queries as segment_queries
from members.segments import services as segment_services
from scrm.actors import SystemActor
from scrm.errors import InvalidInput
from scrm.sql import array

DELIVERY = Delivery._meta.db_table
GUARDIAN_AGE = 14  # under 14 a member's data needs a guardian's consent (PIPL art. 31)
HOLDOUT_BUCKETS = 10_000
HASH_JOINS_FROM = 50_000  # snapshot members from which a fan-out may read the members whole
ANALYZE_AFTER = 10_000  # rows a fan-out writes before it refreshes the partition's statistics
# The member tables a fan-out reads, and when their statistics are too stale to plan it on: rows
# changed since their last analyse, at least this many and more than this share of the rows the
# planner believes the table holds (autovacuum analyses at a tenth; past a fifth it is behind).
MEMBER_TABLES = (members_sql.MEMBER, members_sql.CONSENT, members_sql.IDENTITY, members_sql.STAFF_RELATION)
STALE_ROWS, STALE_SHARE = 10_000, 0.2


class CampaignActor(SystemActor):
    """The campaign as it snapshots its segment: a brand-wide campaign reaches every store, a store's
    campaign that store alone (a brand-wide segment is cut to the store's members)."""

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(f"campaign:{campaign.pk}")
        self.store_id = campaign.store_id
        self.is_operator = campaign.store_id is None


def _minor_cutoff(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - GUARDIAN_AGE)
    except ValueError:  # 29 February
        return today.replace(year=today.year - GUARDIAN_AGE, day=28)


def _reason_sql(channel, *, needs_consent: bool = True, store: str = "%(store)s::bigint") -> str:
    """The CASE deciding a member's suppression reason ('' for none), first reason first. Without
    `needs_consent` (a transactional notice) a member with no marketing answer is not suppressed;
    an explicit no (this channel's, else every channel's) still is."""
    R = DeliveryReason
    return f"""CASE
        WHEN m.erased_at IS NOT NULL THEN '{R.ERASED.value}'
        WHEN NOT ({members_sql.live("m")}) THEN '{R.MERGED.value}'
        WHEN {store} IS NOT NULL AND m.home_store_id IS DISTINCT FROM {store}
            THEN '{R.NOT_IN_STORE.value}'
        WHEN mk.granted = false THEN '{R.OPTED_OUT.value}'
        {f"WHEN mk.granted IS NULL THEN '{R.NO_CONSENT.value}'" if needs_consent else ""}
        WHEN m.birthday > %(minor_cutoff)s AND NOT EXISTS (
            SELECT 1 FROM {members_sql.CONSENT} g WHERE g.member_id = m.id AND g.purpose = %(guardian)s
            AND g.granted) THEN '{R.MINOR.value}'
        WHEN ({_address_sql(channel)}) IS NULL THEN '{R.NO_IDENTITY.value}'
        ELSE '' END"""


def _recipient_sql(channel) -> str:
    """The one relation (its staff member, and the address through it) a member is reached through,
    when the channel picks one (campaigns.channels.base.Channel.recipient_sql); else no row."""
    return channel.recipient_sql("m") or (
        "SELECT NULL::bigint AS relation_id, NULL::bigint AS staff_id, NULL::text AS address WHERE false")


def _address_sql(channel) -> str:
    # A channel that picks a relation has the address from it: one look-up per member, not two.
    return "rc.address" if channel.recipient_sql("m") else channel.address_sql("m")


def _recipient_join(channel, *, hashed: bool) -> str:
    """The join giving each member `m` its relation `rc` (campaigns.channels.base.Channel): the
    channel's set-based choice joined whole when the fan-out reads most of the members, else a
    look-up per member."""
    if hashed and channel.recipient_sql("m"):
        return f"LEFT JOIN ({channel.recipients_sql()}) AS rc ON rc.member_id = m.id"
    return f"LEFT JOIN LATERAL ({_recipient_sql(channel)}) AS rc ON true"


def _insert_sql(channel, ids_sql: str, *, first: bool = False, hashed: bool = False,
                needs_consent: bool = True, campaign: str = "%(campaign)s", store: str = "%(store)s::bigint") -> str:
    # The most specific marketing answer wins: this channel's, else the one for all channels.
    # `campaign` and `store`: the campaign's id and store, one for the statement or a column of `ids_sql`.
    return f"""
        INSERT INTO {DELIVERY} (send_month, campaign_id, member_id, state, reason, next_attempt_at,
                                created_at, updated_at, relation_id, staff_id)
        SELECT %(month)s, {campaign}, m.id,
               CASE WHEN v.reason <> '' THEN '{DeliveryState.SUPPRESSED.value}'
                    WHEN abs(hashtext({campaign}::text || ':' || m.id::text)::bigint) %% {HOLDOUT_BUCKETS}
                         < %(holdout)s THEN '{DeliveryState.HELD_OUT.value}'
                    ELSE '{DeliveryState.PENDING.value}' END,
               v.reason, %(now)s, %(now)s, %(now)s, CASE WHEN v.reason = '' THEN rc.relation_id END,
               CASE WHEN v.reason = '' THEN rc.staff_id END
        FROM ({ids_sql}) AS s
        JOIN {members_sql.MEMBER} m ON m.id = s.id
        LEFT JOIN {members_sql.CONSENT} mc
            ON mc.member_id = m.id AND mc.purpose = %(marketing)s AND mc.channel = %(channel)s
        LEFT JOIN {members_sql.CONSENT} ma
            ON ma.member_id = m.id AND ma.purpose = %(marketing)s AND ma.channel = 'all'
        CROSS JOIN LATERAL (SELECT coalesce(mc.granted, ma.granted) AS granted) AS mk
        {_recipient_join(channel, hashed=hashed)}
        CROSS JOIN LATERAL (SELECT {_reason_sql(channel, needs_consent=needs_consent, store=store)} AS reason) AS v
        {"" if first else "ON CONFLICT (campaign_id, member_id, send_month) DO NOTHING"}"""


def insert_deliveries(*, campaign: Campaign, member_ids, now: dt.datetime,
                      store_id: int | None) -> dict[int, tuple[str, str]]:
    """Write `campaign`'s deliveries for exactly `member_ids` (a list handed over by code: a journey's
    step, a service notice), in one INSERT ... SELECT with the fan-out's rules: each member pending,
    or suppressed with its reason (erased, merged, not of `store_id` when given, opted out, no consent
    unless the campaign is transactional, a minor without a guardian's consent, no address). No
    holdout (that is a segment's measure). A member who already has a delivery of the campaign is
    left as they are (ON CONFLICT DO NOTHING), so a retry writes nothing twice. The campaign has its
    send month. Answers {member id: (state, reason)} of the rows written; ids of no member are skipped."""
    written = insert_deliveries_many(lists=[(campaign, member_ids, store_id)], now=now)
    return {member_id: outcome for (_campaign_id, member_id), outcome in written.items()}


def insert_deliveries_many(*, lists, now: dt.datetime) -> dict[tuple[int, int], tuple[str, str]]:
    """`insert_deliveries` for several campaigns at once (a batch of journey steps): `lists` holds
    (campaign, member ids, store id or None), and the campaigns sharing a channel, a send month and
    whether consent is needed are one statement. Answers {(campaign id, member id): (state, reason)}
    of the rows written."""
    groups: dict[tuple, dict[tuple[int, int], int | None]] = {}
    for campaign, member_ids, store_id in lists:
        member_ids = [int(i) for i in member_ids]
        if not member_ids:
            continue
        if campaign.send_month is None:
            raise ValueError("The campaign has no send month: start it before writing its deliveries.")
        pairs = groups.setdefault((campaign.channel, campaign.send_month, counts_toward_caps(campaign.purpose)), {})
        for member_id in member_ids:
            pairs[(campaign.pk, member_id)] = store_id
    written: dict[tuple[int, int], tuple[str, str]] = {}
    local_today = timezone.localtime(now).date()
    for (channel_name, month, needs_consent), pairs in sorted(groups.items(), key=lambda kv: kv[0][:2]):
        channel = channels.get(channel_name)
        keys = sorted(pairs)  # in key order, as two statements writing the same rows would wait on each other
        params = {"campaigns": array([c for c, _m in keys]), "members": array([m for _c, m in keys]),
                  "stores": array([pairs[k] for k in keys]), "month": month, "now": now, "holdout": 0,
                  "minor_cutoff": _minor_cutoff(local_today), "guardian": ConsentPurpose.GUARDIAN,
                  "marketing": ConsentPurpose.MARKETING, "channel": channel.consent_channel}
        ids_sql = ("SELECT * FROM unnest(%(members)s::bigint[], %(campaigns)s::bigint[], %(stores)s::bigint[]) "
                   "AS u(id, campaign_id, store_id)")
        sql = _insert_sql(channel, ids_sql, needs_consent=needs_consent, campaign="s.campaign_id",
                          store="s.store_id") + " RETURNING campaign_id, member_id, state, reason"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for campaign_id, member_id, state, reason in cursor.fetchall():
                written[(campaign_id, member_id)] = (state, reason)
    return written


def _most_members(cursor, member_count: int) -> bool:
    """Whether a snapshot of `member_count` members reads enough of the members table (a twentieth
    of it, by the planner's own count, and 50,000 at least) to read it whole."""
    if member_count < HASH_JOINS_FROM:
        return False
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [members_sql.MEMBER])
    row = cursor.fetchone()
    return row is not None and member_count * 20 >= row[0]


def _fresh_statistics(cursor) -> list[str]:
    """Analyse the member tables whose statistics a big import outdated (autovacuum had not come
    yet): planned on an empty table's statistics, the snapshot and the fan-out loop over every row
    for each member (100,000 members: minutes instead of seconds). The tables analysed."""
    cursor.execute(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.oid = ANY(%s::regclass[]) AND s.n_mod_since_analyze >= %s "
        "AND s.n_mod_since_analyze > greatest(c.reltuples, 0) * %s ORDER BY 1",
        [list(MEMBER_TABLES), STALE_ROWS, STALE_SHARE],
    )
    stale = [row[0] for row in cursor.fetchall()]
    if stale:
        # SKIP_LOCKED: a table another session is analysing (a fan-out beside this one, autovacuum)
        # is not waited for.
        cursor.execute(f"ANALYZE (SKIP_LOCKED) {', '.join(stale)}")
    return stale


def _snapshot(campaign: Campaign):
    if campaign.segment_id is None:
        raise InvalidInput(details={"segment": [_("The campaign's segment was deleted: choose another segment.")]})
    snapshot = segment_services.snapshot_segment(segment=campaign.segment, actor=CampaignActor(campaign))
    if snapshot.member_count == 0:
        raise InvalidInput(details={"segment": [_("The segment has no members to send to.")]})
    if campaign.store_id is not None and snapshot.store_id != campaign.store_id:
        raise InvalidInput(details={"segment": [_("The snapshot is not limited to the campaign's store.")]})
    return snapshot


@transaction.atomic
def fan_out(*, campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Snapshot the campaign's segment and write its deliveries; the rows written (0 on a rerun).
    An empty or deleted segment is an InvalidInput and writes nothing, never "everyone"."""
    now = now or timezone.now()
    channel = channels.get(campaign.channel)
    with connection.cursor() as cursor:
        _fresh_statistics(cursor)  # before the snapshot's query and the INSERT are planned
    snapshot = _snapshot(campaign)
    month = campaign.send_month or partitions.month_of(now)
    ids_sql, ids_params = segment_queries.snapshot_ids_sql(snapshot)
    # snapshot_ids_sql uses %s placeholders; bind its parameter by name to mix with ours.
    ids_sql = ids_sql.replace("%s", "%(snapshot)s")
    assert len(ids_params) == 1
    params = {
        "snapshot": ids_params[0], "month": month, "campaign": campaign.pk, "now": now,
        "holdout": int(campaign.holdout_share * HOLDOUT_BUCKETS), "store": campaign.store_id,
        "minor_cutoff": _minor_cutoff(timezone.localtime(now).date()), "guardian": ConsentPurpose.GUARDIAN,
        "marketing": ConsentPurpose.MARKETING, "channel": channel.consent_channel,
    }
    with connection.cursor() as cursor:
        hashed = _most_members(cursor, snapshot.member_count)
        if hashed:
            # Reading most of the members: one pass over members and consents (hash joins) beats a
            # million index look-ups each (1M members: the statement's reads 6.0 s -> 1.5 s), but the
            # planner cannot know how many ids a snapshot holds.
            cursor.execute("SHOW work_mem")
            work_mem = cursor.fetchone()[0]
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the hashes of a million members in memory
        # A campaign's first fan-out (no send month yet, and the caller holds the campaign's row
        # lock) has no rows to collide with: a plain INSERT, without a speculative insertion per row.
        cursor.execute(_insert_sql(channel, ids_sql, first=campaign.send_month is None, hashed=hashed), params)
        written = cursor.rowcount
        if hashed:
            cursor.execute("SET LOCAL enable_nestloop = on")
            cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        if written >= ANALYZE_AFTER:
            # The planner still holds the month's partition at its size before these rows, and the
            # sending engine's joins of a batch's keys against it then became sequential scans
            # (100k rows sent: 0.46 s per 2,000-row UPDATE instead of 0.08 s).
            cursor.execute(f"SELECT tableoid::regclass::text FROM {DELIVERY} WHERE campaign_id = %s "
                           "AND send_month = %s LIMIT 1", [campaign.pk, month])
            cursor.execute(f"ANALYZE {cursor.fetchone()[0]}")
    Campaign.objects.filter(pk=campaign.pk).update(snapshot=snapshot, send_month=month)
    campaign.snapshot, campaign.send_month = snapshot, month
    return written
