"""Campaign sends at scale: fan-out beside its INSERT ... SELECT floor, then sending throughput through
the outbox channel with 1 and 2 worker processes running the real tick, caps and quiet hours on.

    .venv/bin/python tests/bench/campaign_bench.py                        # 1,000,000 members
    .venv/bin/python tests/bench/campaign_bench.py --members 100000       # a quick look
    .venv/bin/python tests/bench/campaign_bench.py --netns                # workers in two network namespaces

A command, not part of CI. It creates its own database (bench_siyu_campaigns by default, dropped and
created again) on the server DATABASE_URL points at (the embedded one by default), migrates it, then:

1. seeds N members in set-based INSERTs (tests/campaigns/load.py: 2% opted out, 2% without a consent
   answer, 2% without any address, 2% reachable only through a WeCom identity, 0.25% minors without
   guardian consent) and a segment of everyone;
2. per run (--workers 1,2): starts a campaign on the outbox channel (snapshot + fan-out, timed) and
   times the floor beside it: the same rows INSERT ... SELECTed from the members table into a scratch
   table of the deliveries' columns, bare and with the deliveries' indexes;
3. starts that many worker processes (tests/campaigns/tickloop.py: the real
   campaigns.services.sending.tick in a loop), lets them go at once, and times the send until the
   campaign is done: deliveries/s. The send policy has caps (5 a day, 20 a week, 60 a month: never
   reached, always counted) and quiet hours (placed six hours from now: checked, never in);
4. checks the ledger: one outbox message per sent delivery, none twice, every other recipient with
   its reason, the campaign done; cap slots counted = messages sent.

With --netns the sending runs again with workers in one and then two network namespaces
(siyu_bench_a, siyu_bench_b), each reaching PostgreSQL and Redis over its own veth pair through a
socat relay on the host side (the servers listen on 127.0.0.1 only). Needs root and `ip netns`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

from scrm import embedded  # noqa: E402

embedded.prepare()
django.setup()

from benchdb import create_database, execute, log  # noqa: E402
from django.db import connection, connections  # noqa: E402

from tests.campaigns import load  # noqa: E402

TICKLOOP = ROOT / "tests" / "campaigns" / "tickloop.py"
FLOOR_COLUMNS = "send_month, campaign_id, member_id, state, reason, next_attempt_at, created_at, updated_at"


def database_url() -> str:
    s = connection.settings_dict
    host = s["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{s['USER']}@/{s['NAME']}?host={host}&port={s['PORT'] or 5432}"
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def floor(campaign, indexed: bool) -> float:
    """The same rows as the fan-out wrote, INSERT ... SELECTed from the members into a scratch table."""
    execute("DROP TABLE IF EXISTS bench_floor")
    execute("CREATE TABLE bench_floor (LIKE campaigns_delivery INCLUDING DEFAULTS)")
    if indexed:
        execute("ALTER TABLE bench_floor ADD PRIMARY KEY (send_month, id)")
        execute("CREATE UNIQUE INDEX ON bench_floor (campaign_id, member_id, send_month)")
        execute("CREATE INDEX ON bench_floor (campaign_id, next_attempt_at) WHERE state = 'pending'")
        execute("CREATE INDEX ON bench_floor (claimed_at) WHERE state = 'sending'")
        execute("CREATE INDEX ON bench_floor (member_id, sent_at)")
    started = time.perf_counter()
    execute(f"INSERT INTO bench_floor ({FLOOR_COLUMNS}) SELECT %s, %s, m.id, 'pending', '', now(), now(), now() "
            "FROM members_member m", [campaign.send_month, campaign.pk])
    elapsed = time.perf_counter() - started
    execute("DROP TABLE bench_floor")
    return elapsed


def workers(count: int, campaign_id: int, env: dict, prefixes: list[list[str]] | None = None) -> float:
    """Run `count` tick loops until the campaign is done; the seconds from their start together.
    `prefixes`: a command prefix per worker (round robin), e.g. `ip netns exec NAME WRAPPER`."""
    procs = []
    for n in range(count):
        command = [sys.executable, str(TICKLOOP), "tick", "--wait-go", "--until-done", str(campaign_id),
                   "--idle", "0.05", "--max-seconds", "3600"]
        if prefixes:
            command = [*prefixes[n % len(prefixes)], *command]
        procs.append(subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        line = proc.stdout.readline().strip()
        assert line == "ready", f"worker said {line!r}"
    started = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        proc.wait()
    elapsed = time.perf_counter() - started
    for proc in procs:
        log(f"  worker {proc.pid}: {proc.stdout.read().strip()} (exit {proc.returncode})")
    return elapsed


def one_run(n_workers: int, members: int, expected: dict, env: dict, prefixes: list[list[str]] | None = None,
            label: str = "") -> None:
    from campaigns.models import MemberSendDay

    execute(f"TRUNCATE {MemberSendDay._meta.db_table}")  # each run counts its own cap slots
    name = f"bench {label or n_workers}"
    campaign, fanout_s = load.start_campaign(name=name)
    written = execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s", [campaign.pk])[0][0]
    bare, indexed = floor(campaign, False), floor(campaign, True)
    log(f"fan-out ({name}): {written:,} deliveries in {fanout_s:.2f} s (snapshot + INSERT ... SELECT) "
        f"= {written / fanout_s:,.0f} rows/s; floor: bare {bare:.2f} s ({fanout_s / bare:.1f}x), "
        f"with the deliveries' indexes {indexed:.2f} s ({fanout_s / indexed:.1f}x)")
    pending = execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'pending'",
                      [campaign.pk])[0][0]
    connections.close_all()
    elapsed = workers(n_workers, campaign.pk, env, prefixes)
    with connection.cursor() as cursor:
        found = load.ledger(cursor, campaign.pk)
        slots = load.cap_slots(cursor)
    sent = found["states"].get("sent", 0)
    where = f" in {len(prefixes)} namespace(s)" if prefixes else ""
    log(f"send ({name}): {sent:,} of {pending:,} pending sent by {n_workers} worker(s){where} in {elapsed:.2f} s "
        f"= {sent / elapsed:,.0f} deliveries/s")
    wrong = load.problems(found, members=members, expected=expected)
    if slots != sent:
        wrong.append(f"cap slots counted {slots:,} for {sent:,} sent")
    log(f"  duplicates check: outbox rows {found['outbox']:,}, members with more than one: {found['members_twice']}, "
        f"deliveries sent {sent:,}; reasons {found['reasons']}; cap slots {slots:,}; "
        + ("OK" if not wrong else "PROBLEMS: " + "; ".join(wrong)))


# --- two "hosts": network namespaces over veth pairs -----------------------------------------------


def _sh(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=check)


class Namespaces:
    """Namespaces siyu_bench_a, _b, each with a veth pair (10.77.N.1 host side, 10.77.N.2 inside) and
    socat relays on the host side to PostgreSQL's and Redis's loopback ports."""

    def __init__(self, count: int, pg_port: int, redis_port: int) -> None:
        self.names = [f"siyu_bench_{chr(97 + i)}" for i in range(count)]
        self.pg_port, self.redis_port = pg_port, redis_port
        self.relays: list[subprocess.Popen] = []

    def __enter__(self):
        for i, name in enumerate(self.names, start=1):
            host, inside = f"10.77.{i}.1", f"10.77.{i}.2"
            _sh("ip", "netns", "del", name, check=False)
            _sh("ip", "link", "del", f"sbh{i}", check=False)
            _sh("ip", "netns", "add", name)
            _sh("ip", "link", "add", f"sbh{i}", "type", "veth", "peer", "name", f"sbn{i}")
            _sh("ip", "link", "set", f"sbn{i}", "netns", name)
            _sh("ip", "addr", "add", f"{host}/24", "dev", f"sbh{i}")
            _sh("ip", "link", "set", f"sbh{i}", "up")
            _sh("ip", "netns", "exec", name, "ip", "addr", "add", f"{inside}/24", "dev", f"sbn{i}")
            _sh("ip", "netns", "exec", name, "ip", "link", "set", f"sbn{i}", "up")
            _sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
            for port in (self.pg_port, self.redis_port):
                self.relays.append(subprocess.Popen(
                    ["socat", f"TCP-LISTEN:{port},bind={host},fork,reuseaddr", f"TCP:127.0.0.1:{port}"]))
        time.sleep(0.5)
        return self

    def url_for(self, index: int, url: str) -> str:
        parts = urlsplit(url)
        host = f"10.77.{index + 1}.1"
        return parts._replace(netloc=parts.netloc.replace(parts.hostname, host)).geturl()

    def __exit__(self, *exc):
        for relay in self.relays:
            relay.terminate()
            relay.wait(10)
        for i, name in enumerate(self.names, start=1):
            _sh("ip", "netns", "del", name, check=False)
            _sh("ip", "link", "del", f"sbh{i}", check=False)


def netns_runs(members: int, expected: dict, env: dict) -> None:
    db_url, redis_url = env["DATABASE_URL"], env["REDIS_URL"]
    db, rd = urlsplit(db_url), urlsplit(redis_url)
    if not db.hostname or rd.scheme != "redis":
        log("--netns needs DATABASE_URL and REDIS_URL over TCP (postgresql://…@127.0.0.1, redis://127.0.0.1)")
        return
    with Namespaces(2, db.port or 5432, rd.port or 6379) as spaces:
        # ip netns exec keeps the environment: a wrapper per namespace points its workers at the
        # relays on its own veth pair.
        prefixes = []
        for i, name in enumerate(spaces.names):
            script = Path(f"/tmp/{name}.sh")
            script.write_text("#!/bin/sh\n"
                              f"export DATABASE_URL='{spaces.url_for(i, db_url)}' "
                              f"REDIS_URL='{spaces.url_for(i, redis_url)}'\n"
                              'exec "$@"\n')
            script.chmod(0o755)
            prefixes.append(["ip", "netns", "exec", name, str(script)])
        for count in (1, 2):
            one_run(count, members, expected, env, prefixes=prefixes[:count], label=f"netns x{count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2", help="worker processes per run, comma-separated")
    parser.add_argument("--netns", action="store_true", help="also send from 1 and 2 network namespaces")
    parser.add_argument("--database", default="bench_siyu_campaigns")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    original = connection.settings_dict["NAME"]
    log(f"database {args.database}")
    create_database(args.database)
    try:
        store_ids = load.stores(10)
        load.operator()
        started = time.perf_counter()
        load.seed_members(args.members, store_ids=store_ids)
        log(f"seeded {args.members:,} members with consent and identities in {time.perf_counter() - started:.1f} s")
        execute("VACUUM ANALYZE")
        load.checked_policy()
        expected = load.expected_reasons(args.members)
        env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": os.environ.get("REDIS_URL", "")}
        for count in [int(c) for c in args.workers.split(",") if c]:
            one_run(count, args.members, expected, env)
        if args.netns:
            netns_runs(args.members, expected, env)
    finally:
        connection.close()
        if not args.keep:
            connection.settings_dict["NAME"] = original
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
