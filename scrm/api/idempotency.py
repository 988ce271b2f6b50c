"""Safe retries for the POSTs that move money or points: the `Idempotency-Key` header.

Stripe's semantics. A client sends a key of its choosing (a UUID) with a write; the first request
with that key is carried out and its answer kept, keyed by (the caller's credential, the key). A
retry with the same key and the same request (method, path and body) gets the first answer again,
marked `Idempotent-Replayed: true`, and changes nothing. The same key with another request is
refused (422 `idempotency_key_reused`, naming what differs). While the first request is still
running, a retry waits for it (at most IDEMPOTENCY_WAIT_SECONDS) and then answers its result, or 409
`idempotency_key_in_progress` if it is still running. Keys are forgotten after 24 hours.

What is kept: a success (2xx) or a refusal by the current state (409: insufficient points, an order
number taken...). An invalid request (other 4xx) or a server error keeps nothing, so the client may
fix it and retry with the same key.

How: the key's row is inserted first, in the transaction that then runs the view and stores the
answer. A concurrent request with the same key blocks on that uncommitted row (the unique index),
so exactly one of them executes; if the first fails, its row goes with its rollback and the waiting
request runs instead. A crash leaves nothing behind."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from scrm.errors import Conflict, InvalidInput, ServiceError
from scrm.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: a UUID, a POS receipt number...
TTL = timedelta(hours=24)
PURGE_CHUNK = 10_000
TABLE = IdempotencyKey._meta.db_table
_LOCK_NOT_AVAILABLE = "55P03"


def wait_seconds() -> float:
    return float(getattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 10))


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = "idempotency_key_reused"
    default_message = gettext_lazy(
        "This Idempotency-Key was already used for another request; use a new key for a new request."
    )


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    default_message = gettext_lazy("A request with this Idempotency-Key is still being processed; retry in a moment.")


def idempotent(handler):
    """Marks a view method (create, or an @action) as honouring the Idempotency-Key header. Put it
    closest to the function, under @action and @extend_schema; the schema documents the header."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        return run(view, request, lambda: handler(view, request, *args, **kwargs))

    wrapper.idempotent = True
    return wrapper


def _credential(user) -> str:
    api_key = getattr(user, "api_key", None)
    return f"key:{api_key.pk}" if api_key is not None else f"user:{user.pk}"


def _key(request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not KEY_PATTERN.fullmatch(raw):
        raise InvalidInput(
            details={
                HEADER: [_("An Idempotency-Key is 1 to 255 visible ASCII characters (no spaces), such as a UUID.")]
            }
        )
    return raw


def _body_hash(request) -> str:
    canonical = json.dumps(
        request.data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _storable(status: int) -> bool:
    return 200 <= status < 300 or status == 409


def run(view, request, execute):
    """Answer `request` through `execute()` at most once per Idempotency-Key (see the module docstring)."""
    key = _key(request)
    if key is None:
        return execute()
    credential, path, body_hash = _credential(request.user), request.get_full_path()[:2000], _body_hash(request)
    with transaction.atomic():
        row = _claim(credential, key, request.method, path, body_hash)
        if row is not None:
            _check_same_request(row, request.method, path, body_hash)
            return _replay(row)
        response = _execute(view, request, execute)
        if not _storable(response.status_code):
            transaction.set_rollback(True)  # forget the key: the request changed nothing
            return response
        body = "" if response.data is None else JSONRenderer().render(response.data).decode()
        IdempotencyKey.objects.filter(credential=credential, key=key).update(
            response_status=response.status_code, response_body=body
        )
        return response


def _claim(credential, key, method, path, body_hash) -> IdempotencyKey | None:
    """Insert the key's row (None: this request runs) or return the finished request's row. Waits
    for a request with the same key that is still running; past the wait, IdempotencyKeyInProgress."""
    now = timezone.now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(wait_seconds() * 1000)}ms"])
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE credential = %s AND key = %s AND created_at < %s",
                [credential, key, now - TTL],
            )
            cursor.execute(
                f"""INSERT INTO {TABLE} (credential, key, method, path, body_hash, response_status, response_body,
                    created_at)
                VALUES (%s, %s, %s, %s, %s, 0, '', %s)
                ON CONFLICT (credential, key) DO NOTHING RETURNING id""",
                [credential, key, method, path, body_hash, now],
            )
            inserted = cursor.fetchone() is not None
            cursor.execute("SET LOCAL lock_timeout = DEFAULT")
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) == _LOCK_NOT_AVAILABLE:
            raise IdempotencyKeyInProgress(details={HEADER: key}) from None
        raise
    if inserted:
        return None
    return IdempotencyKey.objects.get(credential=credential, key=key)


def _check_same_request(row: IdempotencyKey, method: str, path: str, body_hash: str) -> None:
    differs = [
        name
        for name, first, now in (
            ("method", row.method, method),
            ("path", row.path, path),
            ("body", row.body_hash, body_hash),
        )
        if first != now
    ]
    if differs:
        raise IdempotencyKeyReused(
            details={
                HEADER: [_("Its first request differs in: %(parts)s.") % {"parts": ", ".join(differs)}],
                "differs": differs,
                "first_request": {"method": row.method, "path": row.path},
            }
        )


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        row.response_body, status=row.response_status, content_type="application/json" if row.response_body else None
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _execute(view, request, execute):
    """Run the view in a savepoint; an error answer (raised as an exception) rolls back what it did."""
    savepoint = transaction.savepoint()
    try:
        response = execute()
    except Exception as exc:  # noqa: BLE001 - answered by the view's own exception handling, as DRF would
        transaction.savepoint_rollback(savepoint)
        return view.handle_exception(exc)
    if response.status_code >= 400:
        transaction.savepoint_rollback(savepoint)
    else:
        transaction.savepoint_commit(savepoint)
    return response


def purge_expired(*, now=None, chunk: int = PURGE_CHUNK) -> int:
    """Delete keys older than TTL, a chunk at a time; returns how many went."""
    cutoff = (now or timezone.now()) - TTL
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""DELETE FROM {TABLE} WHERE id IN (
                    SELECT id FROM {TABLE} WHERE created_at < %s ORDER BY id LIMIT %s)""",
                [cutoff, chunk],
            )
            deleted = cursor.rowcount
        total += deleted
        if deleted < chunk:
            return total
