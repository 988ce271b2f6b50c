"""Scope checks: a view names its resource; reads need `<resource>:read`, writes `<resource>:write`."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import permissions

from scrm import permissions as scope_registry
from scrm.permissions import scopes_of


class HasScope(permissions.BasePermission):
    message = gettext_lazy("Your credentials do not grant the scope this request needs.")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        resource = getattr(view, "scope_resource", None)
        if resource is None:
            return True  # e.g. the API root and /me: any authenticated caller
        # A POST that only reads (a search whose terms stay out of the URL, a recorded reveal) says
        # so with @action(..., reads_only=True).
        reads = request.method in permissions.SAFE_METHODS or getattr(view, "reads_only", False)
        action = "read" if reads else "write"
        needed = f"{resource}:{action}"
        if needed in scopes_of(request.user):
            return True
        if action == "write" and resource in scope_registry.resources():
            self.message = scope_registry.refusal(request.user, resource)
        else:
            self.message = _("This request needs the scope '%(scope)s'.") % {"scope": needed}
        return False
