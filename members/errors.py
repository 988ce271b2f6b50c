"""Errors of the member centre that other apps do not raise; the shared ones are in scrm.errors."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm.errors import Conflict


class IdentityConflict(Conflict):
    """The identities given belong to more than one member (or to one the caller cannot reach):
    an operator decides, for instance by merging."""

    code = "identity_conflict"
    default_message = _("These identities belong to different members; merge them first.")
