"""Staff accounts: creation with role rules, password resets and deactivation, each audited (who
acted, on whom; never the password)."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from scrm.actors import actor_label
from scrm.models import STORE_ROLES, Role, Store, User
from scrm.services import audit


@transaction.atomic
def create_staff(
    *,
    username: str,
    role: str,
    store: Store | None,
    password: str | None = None,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    actor,
    ip=None,
) -> User:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role %(role)s.") % {"role": role}})
    if role in STORE_ROLES and store is None:
        raise ValidationError({"store": _("Store managers and store staff must belong to a store.")})
    if role == Role.OPERATOR:
        store = None
    user = User(
        username=username,
        role=role,
        store=store,
        display_name=display_name,
        email=email,
        phone=phone,
        is_staff=role == Role.OPERATOR,  # operators also manage the brand in the Django admin
    )
    user.full_clean(exclude=["password"])
    if password:
        _validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    _audit(actor, "staff.created", user, ip, {"role": role, "with_password": bool(password)})
    return user


@transaction.atomic
def reset_password(*, user: User, password: str | None = None, actor, ip=None) -> str:
    """Set a new password (a generated one when none is given) and return it."""
    generated = not password
    password = password or generate_password()
    _validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    _audit(actor, "staff.password_reset", user, ip, {"generated": generated})
    return password


def _validate_password(password: str, user: User) -> None:
    """Django's password validators, their messages under the `password` field."""
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None


def _audit(actor, action: str, user: User, ip, detail: dict) -> None:
    label = actor_label(actor)
    audit.record(actor=actor, action=action, obj=user, store_id=user.store_id, ip=ip,
                 detail={**detail, **({"by": label} if label else {})})


def generate_password() -> str:
    # Easy to read aloud to a store clerk: no look-alike characters.
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


def can_manage_accounts(actor) -> bool:
    """Operators and store managers manage staff accounts (which ones: `can_manage`)."""
    return getattr(actor, "role", None) in (Role.OPERATOR, Role.STORE_MANAGER)


def can_manage(*, actor: User, role: str, store_id: int | None) -> bool:
    """Operators manage every account; a store manager manages the store staff of their own store."""
    if actor.role == Role.OPERATOR:
        return True
    return actor.role == Role.STORE_MANAGER and role == Role.STORE_STAFF and store_id == actor.store_id


@transaction.atomic
def set_active(*, user: User, active: bool, actor, ip=None) -> User:
    """Deactivating keeps the account and its history (members keep their owner) but blocks login."""
    changed = User.objects.filter(pk=user.pk).exclude(is_active=active).update(is_active=active)
    user.is_active = active
    if changed:
        _audit(actor, "staff.reactivated" if active else "staff.deactivated", user, ip, {})
    return user


def locked_out(usernames) -> set[str]:
    """Which of these accounts are locked out of logging in (from some address) right now."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.utils import timezone

    attempts = AccessAttempt.objects.filter(username__in=list(usernames),
                                            failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    cool_off = get_cool_off()
    if cool_off:
        attempts = attempts.filter(attempt_time__gt=timezone.now() - cool_off)
    return set(attempts.values_list("username", flat=True))


@transaction.atomic
def unlock(*, user: User, actor, ip=None) -> int:
    """Lift a login lockout of this account (from every address); returns the attempts cleared."""
    from axes.utils import reset

    cleared = reset(username=user.get_username())
    if cleared:
        _audit(actor, "staff.unlocked", user, ip, {"attempts": cleared})
    return cleared
