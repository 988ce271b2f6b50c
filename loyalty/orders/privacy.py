"""Orders' part of a member's data-subject export and erasure. Orders are accounting records: their
amounts, lines and refunds stay, but an erased member's orders lose what identifies the buyer (the
buyer identity, such as the phone a till recorded; an order number made of the phone). Orders still
waiting for a buyer with one of the member's identities lose it too, so they never link to anyone."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat

from loyalty.orders import sql as orders_sql
from loyalty.orders.models import Order, OrderImportJob, OrderImportStatus, OrderLine, Refund
from members.privacy_registry import ErasureSubject, any_contains, scrub_text_fields


def export_part(member, actor) -> list[dict]:
    orders = list(
        Order.objects.filter(member=member)
        .order_by("placed_at", "id")
        .values(
            "id",
            "channel",
            "external_id",
            "store__code",
            "buyer_channel",
            "buyer_namespace",
            "buyer_external_id",
            "referral_code",
            "currency",
            "total_amount",
            "refunded_amount",
            "status",
            "placed_at",
            "created_at",
        )
    )
    ids = [o["id"] for o in orders]
    lines: dict[int, list] = {}
    for line in (
        OrderLine.objects.filter(order_id__in=ids)
        .order_by("id")
        .values("order_id", "sku", "name", "category", "quantity", "amount", "refunded_amount")
    ):
        lines.setdefault(line.pop("order_id"), []).append(line)
    refunds: dict[int, list] = {}
    for refund in (
        Refund.objects.filter(order_id__in=ids)
        .order_by("refunded_at", "id")
        .values("order_id", "external_id", "amount", "reason", "refunded_at")
    ):
        refunds.setdefault(refund.pop("order_id"), []).append(refund)
    for order in orders:
        order["lines"] = lines.get(order["id"], [])
        order["refunds"] = refunds.get(order["id"], [])
    return orders


def _pending_for(subject: ErasureSubject) -> Q:
    condition = Q(pk__in=[])
    for channel, namespace, external_id in subject.identities:
        condition |= Q(buyer_channel=channel, buyer_namespace=namespace, buyer_external_id=external_id)
    for phone in subject.phones:
        condition |= Q(buyer_channel="phone", buyer_external_id=phone)
    return Q(member__isnull=True) & condition


def erase(subject: ErasureSubject) -> dict:
    mine = Order.objects.filter(Q(member_id__in=subject.member_ids) | _pending_for(subject))
    needles = subject.needles
    # An order number that spells the buyer's phone or id is replaced by one that says nothing.
    renumbered = mine.filter(any_contains(["external_id"], needles)).update(external_id=Concat(Value("erased-"), "id"))
    buyers = mine.exclude(buyer_channel="", buyer_namespace="", buyer_external_id="").update(
        buyer_channel="", buyer_namespace="", buyer_external_id=""
    )
    refunds = scrub_text_fields(Refund.objects.filter(order__in=mine), ["reason"], needles)
    return {"buyers": buyers, "order_numbers": renumbered, "refund_reasons": refunds}


# --- order import files ---------------------------------------------------------------------------
# An uploaded order file holds buyers' phones and ids as the till or shop wrote them, and the
# errors kept on its job quote cells. Erasure takes the member's rows out of every kept file (a dry
# run and the import committed from it share one file) and out of the kept errors; retention
# deletes files and errors past SIYU_UPLOAD_RETENTION_DAYS, keeping the job and its counts.


IMPORT_DIR = "order-imports"


def erase_import_files(subject: ErasureSubject) -> dict:
    from members.io import privacy as io_privacy
    from members.io.models import io_storage

    storage = io_storage()
    counts = {"files": 0, "rows": 0, "errors": 0}
    jobs = OrderImportJob.objects.exclude(file="", errors=[]).order_by("pk")
    rewritten: dict[str, tuple[str | None, set[int]]] = {}
    old_files = []
    for job in jobs.iterator(chunk_size=200):
        changes: dict = {}
        rows: set[int] = set()
        name = job.file.name
        if name and storage.exists(name) or name in rewritten:
            if name not in rewritten:
                rewritten[name] = io_privacy.scrub_upload_file(storage, name, job.format, subject)
                if rewritten[name][0] is not None:
                    counts["files"] += 1
                    counts["rows"] += len(rewritten[name][1])
                    old_files.append(name)
            new_name, rows = rewritten[name]
            if new_name is not None:
                changes["file"] = new_name
        errors = io_privacy.scrubbed_errors(job.errors, rows, subject)
        if errors != (job.errors or []):
            counts["errors"] += len(job.errors) - len(errors)
            changes["errors"] = errors
        if job.original_name and subject.mentioned_in(job.original_name):
            changes["original_name"] = subject.scrub(job.original_name)
        if changes:
            OrderImportJob.objects.filter(pk=job.pk).update(**changes)
    io_privacy.delete_on_commit(storage, old_files)
    return counts


def expire_import_files(*, now, batch: int) -> dict:
    """The oldest `batch` order import jobs past the upload retention lose their file and kept
    errors (claimed with SKIP LOCKED); a file goes once no job points to it any more."""
    from members.io.models import io_storage
    from members.io.privacy import upload_retention_days

    storage = io_storage()
    cutoff = now - timedelta(days=upload_retention_days())
    expired = (OrderImportJob.objects.filter(created_at__lt=cutoff)
               .exclude(status__in=[OrderImportStatus.PENDING, OrderImportStatus.RUNNING])
               .exclude(file="", errors=[]))
    with transaction.atomic():
        jobs = list(expired.order_by("pk").select_for_update(skip_locked=True)[:batch])
        names = {job.file.name for job in jobs if job.file.name}
        OrderImportJob.objects.filter(pk__in=[j.pk for j in jobs]).update(file="", errors=[])
        still_used = set(OrderImportJob.objects.filter(file__in=names).values_list("file", flat=True))
    deleted = 0
    for name in names - still_used:
        if storage.exists(name):
            storage.delete(name)
            deleted += 1
    return {"jobs": len(jobs), "files": deleted, "orphans": _sweep_orphans(storage, cutoff, batch)}


def _sweep_orphans(storage, cutoff, batch: int) -> int:
    """Files under order-imports/ older than the cutoff that no job points to (what an erasure
    rolled back after rewriting leaves); local storage only, at most `batch` a run."""
    import os

    try:
        root, base = storage.path(IMPORT_DIR), storage.path("")
    except NotImplementedError:
        return 0
    if not os.path.isdir(root):
        return 0
    referenced = set(OrderImportJob.objects.exclude(file="").values_list("file", flat=True))
    removed = 0
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if os.path.relpath(path, base).replace(os.sep, "/") in referenced:
                continue
            if os.path.getmtime(path) >= cutoff.timestamp():
                continue
            os.unlink(path)
            removed += 1
            if removed >= batch:
                return removed
    return removed


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("orders", export_part)
    privacy_registry.register_erasure_step("orders", erase)
    privacy_registry.register_erasure_step("order_imports", erase_import_files)
    privacy_registry.register_retention_step("order_uploads", expire_import_files)
    # (member_id, placed_at) is indexed (order_member_placed).
    privacy_registry.register_activity(
        "orders", f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = m.id AND o.placed_at >= %(since)s)"
    )
