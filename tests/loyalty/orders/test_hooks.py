"""What a task queued on orders_changed shows of its ids: sizes and ranges, not every id."""

from __future__ import annotations

from loyalty.orders import hooks


def test_ids_repr_names_sizes_and_ranges_not_each_id():
    order_ids = list(range(1000, 2000))
    shown = hooks.ids_repr(order_ids, [7, 3], [])
    assert shown == "([1000 ids: 1000..1999], [2 ids: 3..7], [])"
    assert len(shown) < 60


def test_ids_repr_takes_any_iterable_once():
    assert hooks.ids_repr(iter([5, 9])) == "([2 ids: 5..9])"
