"""The kernel's part of data-subject requests: keeping personal data out of the audit log, and
scrubbing the answers kept for retried POSTs, dropping cached entries about a member. The kernel
knows nothing about members: the member centre passes the strings that identify one.

The audit log records who touched personal data, never the data: writers record ids and counts, and
`redact_filters` takes the search words out of an export's filters before they are recorded (the
ids found are kept instead, `found_ids`). The log is append-only; an erasure blanks the entries
about the member with `scrm.audit.scrub_member`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import Value
from django.db.models.functions import Replace

from scrm.models import IdempotencyKey

REDACTED = "[redacted]"
# Filters whose values are the personal data being searched for (a phone, a name, a channel id).
PERSONAL_FILTERS = frozenset({"q", "phone", "name", "external_id", "identity", "search"})
SCAN_BATCH = 1000
AUDIT_IDS_MAX = 1000  # ids an export found by a search keeps in its audit entry


def redact_filters(filters: dict) -> dict:
    """An export's filters as the audit log may keep them: search words become REDACTED."""
    return {key: (REDACTED if key in PERSONAL_FILTERS else value) for key, value in filters.items()}


def has_personal_filters(filters: dict) -> bool:
    return any(key in PERSONAL_FILTERS for key in filters)


def found_ids(queryset) -> list[int]:
    """The ids a search found (the first AUDIT_IDS_MAX), for an audit entry that may not keep the words."""
    return list(queryset.order_by("id").values_list("id", flat=True)[:AUDIT_IDS_MAX])


def scrub_idempotent_answers(needles: Iterable[str], replacement: str = "[erased]") -> int:
    """Replace each needle in the answers kept for retried POSTs (24 hours of them), as written and as
    JSON escapes it; the answer stays, so a retry is still answered instead of carried out again."""
    changed = 0
    for needle in needles:
        for spelled in dict.fromkeys([needle, json.dumps(needle)[1:-1]]):
            changed += IdempotencyKey.objects.filter(response_body__contains=spelled).update(
                response_body=Replace("response_body", Value(spelled), Value(replacement))
            )
    return changed


def drop_cache_keys(patterns: Iterable[str]) -> int:
    """Delete the cache keys matching `patterns` (glob, as the callers name them without the cache's
    prefix and version); returns how many. A cache that cannot be scanned is left alone."""
    backend = getattr(cache, "_cache", None)
    if backend is None or not hasattr(backend, "get_client"):
        return 0
    client = backend.get_client(None, write=True)
    removed = 0
    for pattern in patterns:
        full = cache.make_key(pattern)
        batch = []
        for key in client.scan_iter(match=full, count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                removed += client.delete(*batch)
                batch = []
        if batch:
            removed += client.delete(*batch)
    return removed
