"""Recording orders, one or a thousand at a time.

Ingestion is idempotent by (channel, external order id): the unique index is the arbiter. A batch
is checked in Python, resolved against members, stores and staff in a fixed handful of queries,
then written with one INSERT ... ON CONFLICT DO NOTHING RETURNING for the orders and one INSERT for
the lines of the orders it created; an order number already recorded (earlier, by a concurrent
sync, or twice in the same batch) is answered with the order that holds it, never counted twice.

The buyer is found by `member_id`, by a buyer identity (channel/namespace/external_id, through the
members' identities) or by phone. None found keeps the order with its buyer identity and no member
(a pending buyer); it is linked later (see `linking`), never dropped."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.orders import hooks
from loyalty.orders import sql as orders_sql
from loyalty.orders.models import AttributionPolicy, Order
from loyalty.orders.services import linking, resend
from loyalty.orders.services.attribution import attribute
from loyalty.orders.services.cleaning import MAX_BATCH, Item, clean_item, currencies
from members import sql as members_sql
from members.models import Channel as IdentityChannel
from members.services import identities
from members.services.identities import IdentityKey
from scrm import sql as scrm_sql
from scrm.errors import Conflict, Forbidden, InvalidInput
from scrm.scoping import access_for
from scrm.sql import array, fetchall


def _resolve_members(items: list[Item], access, errors: dict) -> dict[int, tuple[int | None, int | None]]:
    """Set item.resolved_member; returns {member_id: (home_store_id, active owner id, owner's store)}."""
    given = sorted({i.member_id for i in items if i.member_id})
    survivors: dict[int, tuple[int, int | None, bool]] = {}
    if given:
        # A merged duplicate's orders belong to its survivor (merges collapse chains to one hop).
        for asked, member_id, store_id, erased in fetchall(
            f"""SELECT m.id, coalesce(t.id, m.id), coalesce(t.home_store_id, m.home_store_id),
                   coalesce(t.erased_at, m.erased_at) IS NOT NULL
            FROM {members_sql.MEMBER} m LEFT JOIN {members_sql.MEMBER} t ON t.id = m.merged_into_id
            WHERE m.id = ANY(%s::bigint[])""",
            [array(given)],
        ):
            survivors[asked] = (member_id, store_id, erased)
    keys = {i.buyer for i in items if i.buyer} | {
        IdentityKey(IdentityChannel.PHONE, "", i.phone) for i in items if i.phone
    }
    held = identities.owners(keys)
    loose_phones = sorted(
        {i.phone for i in items if i.phone} - {k.external_id for k in held if k.channel == IdentityChannel.PHONE}
    )
    by_phone: dict[str, int] = {}
    if loose_phones:
        # Profiles with a phone but no phone identity (older imports): only an unambiguous match counts.
        for phone, member_id in fetchall(
            f"""SELECT phone, min(id) FROM {members_sql.MEMBER}
            WHERE phone = ANY(%s::text[]) AND {members_sql.live(None)}
            GROUP BY phone HAVING count(*) = 1""",
            [array(loose_phones)],
        ):
            by_phone[phone] = member_id
    for item in items:
        if item.member_id:
            found = survivors.get(item.member_id)
            if found is None or found[2] or not access.allows_store(found[1]):
                errors.setdefault(item.index, {})["member_id"] = [_("Unknown member %(id)s.") % {"id": item.member_id}]
                continue
            item.resolved_member = found[0]
        elif item.buyer and item.buyer in held:
            item.resolved_member = held[item.buyer]
        elif item.phone:
            key = IdentityKey(IdentityChannel.PHONE, "", item.phone)
            item.resolved_member = held.get(key) or by_phone.get(item.phone)
    wanted = sorted({i.resolved_member for i in items if i.resolved_member})
    if not wanted:
        return {}
    return {
        member_id: (store_id, owner_id, owner_store_id)
        for member_id, store_id, owner_id, owner_store_id in fetchall(
            f"""SELECT m.id, m.home_store_id, u.id, u.store_id
            FROM {members_sql.MEMBER} m LEFT JOIN {scrm_sql.USER} u ON u.id = m.owner_id AND u.is_active
            WHERE m.id = ANY(%s::bigint[])""",
            [array(wanted)],
        )
    }


def _resolve_stores(items: list[Item], access, info: dict, errors: dict) -> None:
    codes = sorted({i.store_code for i in items if i.store_code})
    stores = f"SELECT code, id FROM {scrm_sql.STORE} WHERE code = ANY(%s::text[])"
    store_of = dict(fetchall(stores, [array(codes)])) if codes else {}
    for item in items:
        if item.index in errors:
            continue
        if item.store_code:
            store_id = store_of.get(item.store_code)
            if store_id is None or not access.allows_store(store_id):
                errors.setdefault(item.index, {})["store"] = [
                    _("Unknown store code %(code)s.") % {"code": item.store_code}
                ]
                continue
        elif not access.all_stores:
            store_id = access.store_id  # a store's till or key records the store's own sales
        else:
            store_id = info.get(item.resolved_member, (None,))[0]  # online: the member's home store
        item.store_id = store_id


@dataclass(frozen=True)
class OrderResult:
    index: int
    order_id: int
    created: bool
    member_id: int | None


@dataclass
class BatchResult:
    results: list[OrderResult]
    errors: dict[int, dict]
    conflicts: frozenset[int] = frozenset()  # indexes (among errors) whose order number holds other content

    @property
    def created(self) -> int:
        return sum(r.created for r in self.results)


_ORDER_COLUMNS = (
    ("channel", "text"),
    ("external_id", "text"),
    ("member_id", "bigint"),
    ("buyer_channel", "text"),
    ("buyer_namespace", "text"),
    ("buyer_external_id", "text"),
    ("store_id", "bigint"),
    ("staff_id", "bigint"),
    ("attribution", "text"),
    ("referral_code", "text"),
    ("currency", "text"),
    ("total_amount", "numeric"),
    ("placed_at", "timestamptz"),
)


_LINE_KINDS = ("text", "text", "text", "int", "numeric")  # sku, name, category, quantity, amount


def _buyer_columns(item: Item) -> tuple[str, str, str]:
    if item.buyer:
        return item.buyer.channel, item.buyer.namespace, item.buyer.external_id
    if item.phone:
        return IdentityChannel.PHONE, "", item.phone
    return "", "", ""


def _text_literal(values: list[str]) -> str:
    """array(values) for a column of text, quicker for the usual batch where no value holds a quote or
    a backslash to escape (two joins instead of a check per value)."""
    if not values:
        return "{}"
    blob = "".join(values)
    if '"' in blob or "\\" in blob:
        return array(values)
    return '{"' + '","'.join(values) + '"}'


def _literal(kind: str, values: list) -> str:
    return _text_literal(values) if kind == "text" else array(values)


def _insert(items: list[Item], now: datetime) -> dict[tuple[str, str], int]:
    """INSERT the orders (in key order, so concurrent batches cannot deadlock) and the lines of those
    created; returns {(channel, external_id): id} of the orders this call created."""
    if not items:
        return {}
    rows = sorted(items, key=lambda i: (i.channel, i.external_id))
    arrays = [
        [i.channel for i in rows],
        [i.external_id for i in rows],
        [i.resolved_member for i in rows],
        *map(list, zip(*(_buyer_columns(i) for i in rows), strict=True)),
        [i.store_id for i in rows],
        [i.staff_id for i in rows],
        [str(i.attribution) for i in rows],
        [i.referral_code for i in rows],
        [i.currency for i in rows],
        [i.total for i in rows],
        [i.placed_at for i in rows],
    ]
    names = ", ".join(c for c, _t in _ORDER_COLUMNS)
    unnest = ", ".join(f"%s::{t}[]" for _c, t in _ORDER_COLUMNS)
    created = {
        (channel, external_id): order_id
        for order_id, channel, external_id in fetchall(
            f"""INSERT INTO {orders_sql.ORDER} ({names}, refunded_amount, status, created_at, updated_at)
            SELECT {names}, 0, 'paid', %s, %s FROM unnest({unnest}) WITH ORDINALITY AS r({names}, n)
            ORDER BY n
            ON CONFLICT (channel, external_id) DO NOTHING
            RETURNING id, channel, external_id""",
            [now, now, *(_literal(t, a) for (_c, t), a in zip(_ORDER_COLUMNS, arrays, strict=True))],
        )
    }
    lines = [
        (created[(i.channel, i.external_id)], line)
        for i in rows
        if (i.channel, i.external_id) in created
        for line in i.lines
    ]
    if lines:
        columns = zip(_LINE_KINDS, zip(*(line for _o, line in lines), strict=True), strict=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {orders_sql.ORDER_LINE}
                    (order_id, sku, name, category, quantity, amount, refunded_amount)
                SELECT order_id, sku, name, category, quantity, amount, 0
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::int[], %s::numeric[])
                     AS r(order_id, sku, name, category, quantity, amount)""",
                [array(o for o, _l in lines), *(_literal(kind, list(column)) for kind, column in columns)],
            )
    return created


@dataclass
class _Batch:
    """A batch after checking: its distinct orders, the errors by item index, and the items that
    repeat an earlier item's order number (answered with what the first copy records or finds)."""

    cleaned: list[Item]
    errors: dict[int, dict]
    first_of: dict[tuple[str, str], int]
    repeats: dict[int, tuple[str, str]]
    conflicts: set[int]


def _clean_batch(items: list, now: datetime) -> _Batch:
    allowed = currencies()
    batch = _Batch(cleaned=[], errors={}, first_of={}, repeats={}, conflicts=set())
    first_item: dict[tuple[str, str], Item] = {}
    for index, raw in enumerate(items):
        item, problems = clean_item(index, raw, now, allowed[0], allowed)
        if problems:
            batch.errors[index] = problems
            continue
        key = (item.channel, item.external_id)
        if key in batch.first_of:
            batch.repeats[index] = key
            differs = resend.item_differences(first_item[key], item)
            if differs:
                batch.errors[index] = differs
                batch.conflicts.add(index)
            continue
        batch.first_of[key] = index
        first_item[key] = item
        batch.cleaned.append(item)
    return batch


def _already_recorded(items: list[Item]) -> dict[tuple[str, str], tuple[int, int | None, int | None]]:
    """{(channel, external_id): (order id, store id, member id)} of orders these items name."""
    if not items:
        return {}
    # One unique-index lookup per number (LATERAL ... LIMIT 1): a plain join is planned as a hash of
    # the whole orders table while it holds a few hundred thousand rows, several times slower.
    return {
        (channel, external_id): (order_id, store_id, member_id)
        for order_id, channel, external_id, store_id, member_id in fetchall(
            f"""SELECT o.id, k.channel, k.external_id, o.store_id, o.member_id
            FROM unnest(%s::text[], %s::text[]) AS k(channel, external_id)
            CROSS JOIN LATERAL (
                SELECT id, store_id, member_id FROM {orders_sql.ORDER}
                WHERE channel = k.channel AND external_id = k.external_id LIMIT 1
            ) o""",
            [array(i.channel for i in items), array(i.external_id for i in items)],
        )
    }


def _outcomes(batch: _Batch, valid: list[Item], created: dict, access) -> dict:
    """What each valid item (and each repeat) is answered with: the order created, the order found
    (when the caller may see its store), or an error recorded in batch.errors (None)."""
    found = _already_recorded([i for i in valid if (i.channel, i.external_id) not in created])
    differ = resend.order_differences(
        [
            (i, found[(i.channel, i.external_id)][0])
            for i in valid
            if (i.channel, i.external_id) in found and access.allows_store(found[(i.channel, i.external_id)][1])
        ]
    )
    outcome: dict = {}
    for item in valid:
        key = (item.channel, item.external_id)
        if key in created:
            outcome[key] = OrderResult(item.index, created[key], True, item.resolved_member)
        elif item.index in differ:
            outcome[key] = None
            batch.errors[item.index] = differ[item.index]
            batch.conflicts.add(item.index)
        elif key in found and access.allows_store(found[key][1]):
            outcome[key] = OrderResult(item.index, found[key][0], False, found[key][2])
        else:
            outcome[key] = None
            batch.errors[item.index] = {
                "external_id": [
                    _("Order %(number)s was already recorded for another store.") % {"number": item.external_id}
                ]
            }
    for index, key in batch.repeats.items():
        first = outcome.get(key)
        if index in batch.errors:  # other content than the first copy (resend.item_differences)
            continue
        if first is None:
            if batch.first_of[key] in batch.conflicts:
                batch.conflicts.add(index)
            batch.errors[index] = batch.errors.get(batch.first_of[key]) or {
                "external_id": [_("Same order as item %(n)d.") % {"n": batch.first_of[key]}]
            }
        else:
            outcome[(index, key)] = OrderResult(index, first.order_id, False, first.member_id)
    return outcome


def _refused(errors: dict[int, dict], conflicts: set[int]) -> InvalidInput | Conflict:
    """All or nothing refused: a 400 naming each invalid item, or a 409 when every refused item
    only repeats an order number recorded with other content."""
    details = {"items": {str(i): errors[i] for i in sorted(errors)}}
    if conflicts and set(errors) <= conflicts:
        return Conflict(
            _("These order numbers were already recorded with other content; see details."),
            details=details,
            code=resend.CONFLICT_CODE,
        )
    return InvalidInput(details=details)


def record_orders(*, items, actor, atomic: bool = False) -> BatchResult:
    """Record up to MAX_BATCH orders. Each invalid item gets its own errors (by index) and the valid
    ones are recorded; with `atomic`, any invalid item raises InvalidInput and nothing is written.
    A duplicate order number (earlier, concurrently, or twice in `items`) is answered with the order
    holding it (`created` False). An order number already recorded for a store the caller cannot
    see is an error for that item."""
    if not isinstance(items, list) or not items:
        raise InvalidInput(details={"items": [_("Expected a non-empty list of orders.")]})
    if len(items) > MAX_BATCH:
        raise InvalidInput(details={"items": [_("At most %(max)d orders per batch.") % {"max": MAX_BATCH}]})
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise Forbidden()
    now = timezone.now()
    batch = _clean_batch(items, now)
    errors = batch.errors
    with transaction.atomic():
        info = _resolve_members(batch.cleaned, access, errors)
        _resolve_stores(batch.cleaned, access, info, errors)
        valid = [i for i in batch.cleaned if i.index not in errors]
        if atomic and errors:
            raise _refused(errors, batch.conflicts)
        attribute(valid, info, AttributionPolicy.current())
        created = _insert(valid, now)
        linking.emit_recorded(  # those recorded with their buyer known
            (created[key], i.resolved_member, info[i.resolved_member][0], *key, i.total, i.currency)
            for i in valid
            if i.resolved_member and (key := (i.channel, i.external_id)) in created
        )
        outcome = _outcomes(batch, valid, created, access)
        if atomic and errors:
            raise _refused(errors, batch.conflicts)
        if created:
            hooks.orders_changed(
                order_ids=created.values(),
                member_ids=[i.resolved_member for i in valid if (i.channel, i.external_id) in created],
            )
    results = sorted((r for r in outcome.values() if r is not None), key=lambda r: r.index)
    return BatchResult(results=_members_in_reach(results, access), errors=errors, conflicts=frozenset(batch.conflicts))


def _members_in_reach(results: list[OrderResult], access) -> list[OrderResult]:
    """The results as the caller may read them: an order of the caller's store bought by a member of
    another store is recorded and credited to that member, but the answer names no member the
    caller cannot see (member_id None)."""
    if access.all_stores:
        return results
    asked = sorted({r.member_id for r in results if r.member_id})
    if not asked:
        return results
    home = dict(
        fetchall(f"SELECT id, home_store_id FROM {members_sql.MEMBER} WHERE id = ANY(%s::bigint[])", [array(asked)])
    )
    return [
        r if r.member_id is None or access.allows_store(home.get(r.member_id)) else replace(r, member_id=None)
        for r in results
    ]


def record_order(*, data, actor) -> tuple[Order, bool]:
    """One order: (order, created). A duplicate order number answers with the order already recorded;
    the same number with other content is a Conflict naming the fields that differ."""
    try:
        batch = record_orders(items=[data], actor=actor, atomic=True)
    except (InvalidInput, Conflict) as exc:
        items = exc.details.get("items")
        if isinstance(items, dict) and "0" in items:
            if isinstance(exc, Conflict):
                raise Conflict(
                    _("Order %(number)s was already recorded with other content: %(fields)s.")
                    % {"number": data.get("external_id"), "fields": ", ".join(sorted(items["0"]))},
                    details=items["0"],
                    code=resend.CONFLICT_CODE,
                ) from None
            raise InvalidInput(details=items["0"]) from None
        raise
    result = batch.results[0]
    return Order.objects.get(pk=result.order_id), result.created
