"""The shared hand-over of the communities' outbox rows: bounded by rounds, a short round ends it
(unless rounds take a group each), rows another session holds are skipped without waiting, a
sender that raises leaves its round unhanded, no sender hands nothing, and every claimed row must
be answered for. Exercised on feedback requests, with a stand-in sender."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, connections
from django.utils import timezone

from communities import hooks
from communities.models import FeedbackRequest
from communities.services import handing
from communities.services.feedback_requests import REQUEST


@pytest.fixture
def requests(make_event, members):
    """Five unhanded feedback requests, one a member, two events (ids ascending: 3 of the first)."""
    a, b = members
    first, second = make_event(title="Night run"), make_event(title="Dawn ride")
    return [FeedbackRequest.objects.create(event=event, member=member, store=first.store).pk
            for event, member in [(first, a[0]), (first, a[1]), (first, a[2]), (second, b[0]), (second, b[1])]]


@pytest.fixture
def sender():
    """A stand-in sender that records what it is given; `fail_on` makes its n-th call raise."""
    class Sender:
        def __init__(self):
            self.calls: list[tuple[int, ...]] = []
            self.fail_on: int | None = None

        def __call__(self, batch: hooks.NoticeBatch) -> str:
            self.calls.append(batch.notice_ids)
            if len(self.calls) == self.fail_on:
                raise RuntimeError("the channel is down")
            return f"sent:{len(self.calls)}"

    before = hooks.notice_sender()
    stand_in = Sender()
    hooks.register_notice_sender(stand_in)
    yield stand_in
    hooks.unregister_notice_sender(stand_in)
    if before is not None:
        hooks.register_notice_sender(before)


NOW = timezone.now().replace(microsecond=0)


def one_call_a_round(sender: hooks.NoticeSender, ids: list[int]) -> list[tuple[int, str]]:
    ref = sender(hooks.NoticeBatch(event_id=None, store_id=None, kind="test", name="test", text="test",
                                   member_ids=(), notice_ids=tuple(ids), now=NOW))
    return [(i, ref) for i in ids]


def handed() -> dict[int, str | None]:
    return dict(FeedbackRequest.objects.filter(handed_at=NOW).values_list("pk", "handed_to"))


def unhanded() -> list[int]:
    return sorted(FeedbackRequest.objects.filter(handed_at__isnull=True).values_list("pk", flat=True))


def hand_over(**kwargs) -> int:
    return handing.hand_over(**{"table": REQUEST, "hand": one_call_a_round, "now": NOW, **kwargs})


@pytest.mark.django_db
def test_rounds_are_bounded_and_each_writes_its_refs_back(requests, sender):
    assert hand_over(batch=2, max_rounds=2) == 4
    assert sender.calls == [tuple(requests[:2]), tuple(requests[2:4])]  # oldest first, a round a call
    assert handed() == {requests[0]: "sent:1", requests[1]: "sent:1", requests[2]: "sent:2", requests[3]: "sent:2"}
    assert unhanded() == [requests[4]]  # the next tick's
    assert hand_over(batch=2, max_rounds=2) == 1
    assert hand_over(batch=2, max_rounds=2) == 0
    assert unhanded() == []


@pytest.mark.django_db
def test_a_short_round_ends_the_hand_over_unless_rounds_take_a_group_each(requests, sender):
    one_event = (f"t.event_id = (SELECT f.event_id FROM {REQUEST} f WHERE f.handed_at IS NULL "
                 "ORDER BY f.id LIMIT 1 FOR UPDATE SKIP LOCKED)")
    assert hand_over(batch=4, max_rounds=5, where=one_event) == 3  # the first event's three: short, done
    assert unhanded() == requests[3:]
    FeedbackRequest.objects.update(handed_at=None, handed_to="")
    sender.calls.clear()
    assert hand_over(batch=4, max_rounds=5, where=one_event, stop_when_short=False) == 5
    assert sender.calls == [tuple(requests[:3]), tuple(requests[3:])]


@pytest.mark.django_db
def test_refs_are_cut_to_the_column_and_a_missing_ref_is_empty(requests, sender):
    answers = iter(["x" * 100, None, "answered", "", "y"])
    assert hand_over(hand=lambda _sender, ids: [(i, next(answers)) for i in ids], batch=10, max_rounds=1) == 5
    assert [handed()[i] for i in requests] == ["x" * 64, "", "answered", "", "y"]


@pytest.mark.django_db
def test_a_sender_that_raises_leaves_its_round_unhanded(requests, sender):
    sender.fail_on = 2
    with pytest.raises(RuntimeError):
        hand_over(batch=2, max_rounds=5)
    assert handed() == {requests[0]: "sent:1", requests[1]: "sent:1"}  # the round before stays handed
    assert unhanded() == requests[2:]
    sender.fail_on = None
    assert hand_over(batch=2, max_rounds=5) == 3  # the next tick takes them


@pytest.mark.django_db
def test_without_a_sender_nothing_is_claimed(requests):
    before = hooks.notice_sender()
    hooks._senders.clear()
    try:
        assert hand_over(hand=lambda *_args: pytest.fail("called without a sender"), batch=2, max_rounds=5) == 0
    finally:
        if before is not None:
            hooks.register_notice_sender(before)
    assert unhanded() == requests


@pytest.mark.django_db
def test_a_claimed_row_left_unanswered_is_an_error_and_nothing_is_written(requests, sender):
    with pytest.raises(ValueError, match="claimed"):
        hand_over(hand=lambda sender, ids: one_call_a_round(sender, ids)[1:], batch=2, max_rounds=5)
    assert unhanded() == requests


@pytest.mark.django_db(transaction=True)
def test_rows_another_session_holds_are_skipped_without_waiting(requests, sender):
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {REQUEST} WHERE id = ANY(%s) FOR UPDATE", [[requests[0], requests[2]]])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # waiting on the held rows fails, not hangs
        try:
            assert hand_over(batch=2, max_rounds=5) == 3
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        assert sender.calls == [(requests[1], requests[3]), (requests[4],)]
        assert unhanded() == [requests[0], requests[2]]
    finally:
        other.rollback()
        other.close()
    assert hand_over(batch=2, max_rounds=5) == 2  # let go: the next tick takes them
    assert unhanded() == []


@pytest.mark.django_db
def test_handed_at_is_the_given_time(requests, sender):
    later = NOW + dt.timedelta(minutes=5)
    assert handing.hand_over(table=REQUEST, hand=one_call_a_round, now=later, batch=10, max_rounds=1) == 5
    assert set(FeedbackRequest.objects.values_list("handed_at", flat=True)) == {later}
