"""What other apps do when orders change (tiers, points, referral commissions), without orders
importing them. Each app registers a callback from its AppConfig.ready():

    from loyalty.orders import hooks
    hooks.on_orders_changed(lambda order_ids, member_ids: recalculate_soon(member_ids))

The orders services call `orders_changed()` inside their transaction; callbacks run after commit
(`transaction.on_commit`), so they see the committed rows and usually just queue a Celery task with
the ids. `order_ids` are the orders created, refunded or linked to a member; `member_ids` the
members whose figures may have moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

OrdersChanged = Callable[[list[int], list[int]], None]
_CALLBACKS: list[OrdersChanged] = []


def on_orders_changed(callback: OrdersChanged) -> None:
    if callback not in _CALLBACKS:
        _CALLBACKS.append(callback)


def ids_repr(*id_lists) -> str:
    """The `argsrepr` of a task a callback queues with id lists: their sizes and ranges. Celery would
    otherwise render every id into the message headers, a cost on each batch of a thousand orders."""
    parts = [f"[{len(ids)} ids: {min(ids)}..{max(ids)}]" if ids else "[]" for ids in map(list, id_lists)]
    return "(" + ", ".join(parts) + ")"


def queue(task, *id_lists) -> None:
    """Queue `task(*id_lists)`, its id lists shown in the message headers as ids_repr gives them."""
    args = tuple(list(ids) for ids in id_lists)
    task.apply_async(args, argsrepr=ids_repr(*args))


def orders_changed(*, order_ids: Iterable[int], member_ids: Iterable[int]) -> None:
    order_ids = sorted({int(i) for i in order_ids})
    member_ids = sorted({int(i) for i in member_ids if i is not None})
    if not order_ids and not member_ids:
        return
    for callback in list(_CALLBACKS):
        transaction.on_commit(lambda cb=callback: cb(order_ids, member_ids))
