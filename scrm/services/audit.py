"""Recording who touched personal data."""

from __future__ import annotations

from scrm.models import AuditLog


def record(*, actor, action: str, obj=None, store_id: int | None = None, detail: dict | None = None, ip=None):
    api_key = getattr(actor, "api_key", None)
    user = actor if (api_key is None and getattr(actor, "pk", None)) else None
    return AuditLog.objects.create(
        user=user,
        api_key=api_key,
        store_id=store_id,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail or {},
        ip=ip,
    )
