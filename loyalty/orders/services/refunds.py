"""Refunds: giving back part or all of an order (or of one of its lines), idempotent by refund number."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.orders import hooks
from loyalty.orders.models import Order, OrderLine, OrderStatus, Refund
from loyalty.orders.services.cleaning import clean_text, parse_amount, parse_moment
from loyalty.orders.services.permissions import can_refund
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.scoping import access_for


def _clean_refund(external_id, amount, reason, refunded_at):
    """(refund number, amount, reason, refund time) as given, or InvalidInput naming each bad field."""
    errors: dict = {}
    number = clean_text(external_id, "external_id", errors, max_length=128, required=True)
    value, problem = parse_amount(amount, allow_zero=False)
    if problem:
        errors["amount"] = [problem]
    reason = clean_text(reason, "reason", errors, max_length=200)
    at = timezone.now()
    if refunded_at not in (None, ""):
        at, problem = parse_moment(refunded_at, now=timezone.now())
        if problem:
            errors["refunded_at"] = [problem]
    if errors:
        raise InvalidInput(details=errors)
    return number, value, reason, at


def _locked_line(order: Order, line) -> OrderLine | None:
    """The line of the (locked) order a refund names, locked too; None when it names none."""
    if line in (None, ""):
        return None
    line_id = line.pk if isinstance(line, OrderLine) else line
    if isinstance(line_id, str) and line_id.isdigit():
        line_id = int(line_id)
    found = (
        OrderLine.objects.select_for_update().filter(order=order, pk=line_id).first()
        if isinstance(line_id, int) and not isinstance(line_id, bool)
        else None
    )
    if found is None:
        raise InvalidInput(
            details={
                "line": [_("Order %(number)s has no line %(line)s.") % {"number": order.external_id, "line": line}]
            }
        )
    return found


def _check_refundable(order: Order, line: OrderLine | None, value) -> None:
    remaining = order.total_amount - order.refunded_amount
    if value > remaining:
        raise InvalidInput(
            details={
                "amount": [
                    _("%(amount)s is more than the %(remaining)s still refundable on this order.")
                    % {"amount": value, "remaining": remaining}
                ]
            }
        )
    if line is not None and value > line.amount - line.refunded_amount:
        raise InvalidInput(
            details={
                "amount": [
                    _("%(amount)s is more than the %(remaining)s still refundable on line %(line)s.")
                    % {"amount": value, "remaining": line.amount - line.refunded_amount, "line": line.name}
                ]
            }
        )


@transaction.atomic
def record_refund(
    *, order: Order, external_id, amount, line=None, reason="", refunded_at=None, actor=None
) -> tuple[Refund, bool]:
    """Give back `amount` of `order` (or of one of its lines): (refund, created). Idempotent by
    (order, refund number); more than what remains refundable is refused and nothing changes. The
    order row is locked so two refunds of the same order cannot both pass the check."""
    number, value, reason, at = _clean_refund(external_id, amount, reason, refunded_at)
    if actor is not None and not can_refund(actor):
        raise Forbidden(_("Store staff do not record refunds; ask the store manager."))
    locked = Order.objects.select_for_update().get(pk=order.pk)
    # Refunds are the business of the store the order belongs to (or of the brand): the store of
    # the buyer's membership does not reach another store's order.
    if actor is not None and not access_for(actor).allows_store(locked.store_id):
        raise NotInScope()
    existing = Refund.objects.filter(order=locked, external_id=number).first()
    if existing is not None:
        if existing.amount != value:
            raise Conflict(
                _("Refund %(number)s was already recorded for %(amount)s.")
                % {"number": number, "amount": existing.amount},
                details={"external_id": [_("Already used for a refund of %(amount)s.") % {"amount": existing.amount}]},
                code="refund_number_taken",
            )
        return existing, False
    line_obj = _locked_line(locked, line)
    _check_refundable(locked, line_obj, value)
    refund = Refund.objects.create(
        order=locked, line=line_obj, external_id=number, amount=value, reason=reason, refunded_at=at
    )
    if line_obj is not None:
        line_obj.refunded_amount += value
        line_obj.save(update_fields=["refunded_amount"])
    locked.refunded_amount += value
    locked.status = (
        OrderStatus.REFUNDED if locked.refunded_amount == locked.total_amount else OrderStatus.PARTIALLY_REFUNDED
    )
    locked.save(update_fields=["refunded_amount", "status", "updated_at"])
    order.refunded_amount, order.status = locked.refunded_amount, locked.status
    hooks.orders_changed(order_ids=[locked.pk], member_ids=[locked.member_id])
    return refund, True
