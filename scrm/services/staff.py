"""Staff accounts: creation with role rules, and password resets."""

from __future__ import annotations

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from scrm.models import STORE_ROLES, Role, Store, User


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
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def reset_password(*, user: User, password: str | None = None) -> str:
    """Set a new password (a generated one when none is given) and return it."""
    password = password or generate_password()
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    return password


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


def set_active(*, user: User, active: bool) -> User:
    """Deactivating keeps the account and its history (members keep their owner) but blocks login."""
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    return user
