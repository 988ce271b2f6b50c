"""Seats and check-ins under real concurrency: many PostgreSQL sessions at once (one per thread),
committed transactions, no mocks. The crowds are a tenth of the issue's by default (1,000 sign-ups
for 50 seats from 32 sessions; 500 sign-ups checked in by 4 phones), so the suite stays quick;
SIYU_CROWD_SCALE=1 runs the issue's sizes (10,000 for 500; 5,000 by 4 phones), as
tests/bench/communities_signup_bench.py does for the figures."""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.utils import timezone

from communities.models import CheckIn, Event, SignUp, SignUpState
from communities.services import checkins, signups
from members.models import Member, MemberTag

pytestmark = pytest.mark.django_db(transaction=True)
SCALE = float(os.environ.get("SIYU_CROWD_SCALE", "0.1"))


def _crowd(store, n: int) -> list[int]:
    Member.objects.bulk_create(
        [Member(name=f"跑者{i}", home_store=store) for i in range(n)], batch_size=5000)
    return list(Member.objects.filter(home_store=store).order_by("id").values_list("id", flat=True))


def _in_threads(work, chunks):
    def run(chunk):
        try:
            return work(chunk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        return list(pool.map(run, chunks))


def test_a_crowd_signing_up_at_once_fills_exactly_the_seats_and_queues_the_rest_in_order(make_event, store_a, alice):
    crowd, seats, clients = int(10_000 * SCALE), int(500 * SCALE), 32
    ids = _crowd(store_a, crowd)
    event = make_event(capacity=seats)
    start = threading.Barrier(clients)
    chunks = [ids[i::clients] for i in range(clients)]

    def sign_up_all(chunk):
        start.wait()
        return [(m, signups.sign_up(event=event, member_id=m, actor=alice).signup.position) for m in chunk]

    began = time.perf_counter()
    answers = _in_threads(sign_up_all, chunks)
    elapsed = time.perf_counter() - began
    print(f"\n{crowd} sign-ups from {clients} sessions for {seats} seats: {elapsed:.2f} s, "
          f"{crowd / elapsed:.0f} a second")
    event.refresh_from_db()
    states = Counter(SignUp.objects.filter(event=event).values_list("state", flat=True))
    assert states == {SignUpState.CONFIRMED: seats, SignUpState.WAITLISTED: crowd - seats}
    assert event.seats_taken == seats
    positions = sorted(SignUp.objects.filter(event=event, state="waitlisted").values_list("position", flat=True))
    assert positions == list(range(1, crowd - seats + 1))  # no gap, no position twice
    for answered in answers:  # each client's sign-ups, one after the other, queued in its order
        mine = [p for _m, p in answered if p is not None]
        assert mine == sorted(mine)


def test_freed_seats_under_a_crowd_go_to_the_waitlist_first(make_event, store_a, alice):
    ids = _crowd(store_a, 400)
    event = make_event(capacity=100)
    for m in ids[:150]:
        signups.sign_up(event=event, member_id=m, actor=alice)
    seated = list(SignUp.objects.filter(event=event, state="confirmed").order_by("id")[:40])

    def cancel_some(chunk):
        for s in chunk:
            signups.cancel(signup=s, actor=alice, by="member")

    def newcomers(chunk):
        for m in chunk:
            signups.sign_up(event=event, member_id=m, actor=alice)

    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(_closing(cancel_some), seated[i::2]) for i in range(2)]
        jobs += [pool.submit(_closing(newcomers), ids[150 + i::4]) for i in range(4)]
        for job in jobs:
            job.result()
    event.refresh_from_db()
    states = Counter(SignUp.objects.filter(event=event).values_list("state", flat=True))
    assert states["confirmed"] + states["offered"] == 100 == event.seats_taken
    assert states["offered"] == 40
    offered_max = max(SignUp.objects.filter(event=event, state="offered").values_list("position", flat=True))
    waiting_min = min(SignUp.objects.filter(event=event, state="waitlisted").values_list("position", flat=True))
    assert offered_max < waiting_min  # the offers went to the head of the line


def _closing(work):
    def run(*args):
        try:
            return work(*args)
        finally:
            connections.close_all()
    return run


def _seated_crowd(event, ids):
    SignUp.objects.bulk_create([
        SignUp(event=event, member_id=m, store_id=event.store_id, state=SignUpState.CONFIRMED,
               code=signups.new_code()) for m in ids], batch_size=5000)
    Event.objects.filter(pk=event.pk).update(seats_taken=len(ids))
    return list(SignUp.objects.filter(event=event).values_list("code", "member_id"))


def test_four_phones_check_in_the_same_crowd_with_no_lost_or_double_check_in(make_event, store_a, carol, bob):
    crowd = int(5_000 * SCALE)
    ids = _crowd(store_a, crowd)
    event = make_event(capacity=crowd)
    tickets = _seated_crowd(event, ids)
    phones = 4
    start = threading.Barrier(phones)

    def door(phone):
        order = tickets[:]
        random.Random(phone).shuffle(order)
        order = order[: len(order) // 2 + phone * len(order) // 8]  # together they cover everyone
        start.wait()
        actor = carol if phone % 2 else bob
        return [(checkins.check_in(event=event, actor=actor, source="scan", code=code, device=f"phone {phone}"),
                 member) for code, member in order]

    began = time.perf_counter()
    answers = [a for phone in _in_threads(door, list(range(phones))) for a in phone]
    elapsed = time.perf_counter() - began
    print(f"\n{len(answers)} check-ins of {crowd} sign-ups from {phones} phones: {elapsed:.2f} s")
    created = [r for r, _m in answers if r.created]
    covered = {m for _r, m in answers}
    assert len(created) == len(covered) == CheckIn.objects.filter(event=event).count()
    assert len({r.checkin.member_id for r in created}) == len(created)
    first = dict(CheckIn.objects.filter(event=event).values_list("member_id", "id"))
    assert all(r.checkin.pk == first[m] for r, m in answers)  # every repeat names the first check-in
    assert SignUp.objects.filter(event=event, state="attended").count() == len(covered)
    assert MemberTag.objects.filter(tag=event.attendance_tag).count() == len(covered)


def test_two_phones_tapping_the_same_member_at_the_same_instant(make_event, members, carol, bob):
    a, _b = members
    event = make_event(capacity=3)
    tickets = [signups.sign_up(event=event, member_id=m.pk, actor=bob).signup for m in a]
    for ticket in tickets:
        together = threading.Barrier(2)

        def tap(actor, ticket=ticket, together=together):
            together.wait()
            return checkins.check_in(event=event, actor=actor, source="list", member_id=ticket.member_id,
                                     device=actor.username)

        first, second = _in_threads(tap, [carol, bob])
        assert sorted([first.created, second.created]) == [False, True]
        assert first.checkin.pk == second.checkin.pk
        later = second if not second.created else first
        assert "Already checked in" in checkins.answer(later)
    assert CheckIn.objects.filter(event=event).count() == 3
    assert connection.vendor == "postgresql"


def test_offer_expiry_from_two_workers_at_once_lapses_each_offer_once(make_event, store_a, alice):
    ids = _crowd(store_a, 60)
    event = make_event(capacity=20, offer_minutes=5)
    for m in ids:
        signups.sign_up(event=event, member_id=m, actor=alice)
    for s in SignUp.objects.filter(event=event, state="confirmed").order_by("id")[:10]:
        signups.cancel(signup=s, actor=alice)
    later = timezone.now() + dt.timedelta(minutes=6)
    lapsed = _in_threads(lambda _i: signups.expire_offers(now=later), [0, 1])
    assert sum(lapsed) == 10
    event.refresh_from_db()
    states = Counter(SignUp.objects.filter(event=event).values_list("state", flat=True))
    assert states["expired"] == 10 and states["offered"] == 10 and event.seats_taken == 20
