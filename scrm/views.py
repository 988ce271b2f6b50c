"""Dashboard and staff phone views of the organisation, and the health endpoint."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scrm import overview, queries
from scrm import permissions as scope_registry
from scrm.auth import client_ip
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.filters import ApiKeyFilterSet, StaffFilterSet, StoreFilterSet
from scrm.forms import ApiKeyForm, StaffForm
from scrm.models import ApiKey, Role, Store, User
from scrm.scoping import get_visible_or_404
from scrm.services import api_keys, health, staff


@require_GET
@never_cache
def healthz(request):
    """200 when the database and the broker answer, 503 naming what does not."""
    problems = [p for p in (health.check_database(), health.check_broker()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})


@scoped_view
def home(request):
    if request.user.role == Role.STORE_STAFF:
        return redirect("mobile-home")
    context = {
        "figures": queries.home_figures(request.user),
        "cards": overview.for_user(request.user, page="overview_cards"),
        "sections": overview.for_user(request.user),
    }
    return render(request, "scrm/home.html", context)


@scoped_view
def mobile_home(request):
    # Everything on it comes from the apps that register a section: members first, then sales.
    context = {"sections": overview.for_user(request.user, page="today")}
    return render(request, "scrm/mobile_home.html", context)


class StoreListView(ScopedListView):
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = Store.objects.select_related("region").order_by("code")
    filterset_class = StoreFilterSet
    template_name = "scrm/store_list.html"
    partial_template_name = "scrm/_store_rows.html"


class StaffListView(ScopedListView):
    """Staff accounts of the user's scope; operators and store managers add accounts and reset
    passwords here (a manager only for the clerks of their own store). A new password is shown once,
    in the answer to the POST that made it: it is never kept in the session."""

    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = User.objects.select_related("store").order_by("store__code", "username")
    filterset_class = StaffFilterSet
    template_name = "scrm/staff_list.html"
    partial_template_name = "scrm/_staff_rows.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", StaffForm(actor=self.request.user))
        context["locked"] = staff.locked_out(u.username for u in context["object_list"])
        return context

    def post(self, request, *args, **kwargs):
        form = StaffForm(request.POST, actor=request.user)
        issued = None
        if form.is_valid():
            password = staff.generate_password()
            user = staff.create_staff(
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                store=form.cleaned_data["store"],
                display_name=form.cleaned_data["display_name"],
                password=password,
                actor=request.user,
                ip=client_ip(request),
            )
            issued = {"username": user.username, "password": password}
            messages.success(request, _("%(name)s can log in now.") % {"name": user})
            form = StaffForm(actor=request.user)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form, issued=issued))


def _managed_staff(request, pk) -> User:
    if not staff.can_manage_accounts(request.user):
        raise PermissionDenied
    target = get_visible_or_404(User, request.user, pk=pk)
    if target.pk == request.user.pk or not staff.can_manage(
        actor=request.user, role=target.role, store_id=target.store_id
    ):
        raise PermissionDenied
    return target


@scoped_view(pk=User)
@require_http_methods(["GET", "POST"])
def reset_staff_password(request, pk):
    """GET asks to confirm; POST sets a new password and shows it in this one answer."""
    target = _managed_staff(request, pk)
    if request.method == "GET":
        return render(request, "scrm/staff_confirm.html", {"target": target, "action": "reset"})
    password = staff.reset_password(user=target, actor=request.user, ip=client_ip(request))
    return render(request, "scrm/staff_password.html", {"target": target, "password": password})


@scoped_view(pk=User)
@require_POST
def unlock_staff(request, pk):
    """Lift a login lockout (too many wrong passwords) before its cool-off ends."""
    target = _managed_staff(request, pk)
    staff.unlock(user=target, actor=request.user, ip=client_ip(request))
    messages.success(request, _("%(name)s can try to log in again.") % {"name": target})
    return redirect("staff-list")


@scoped_view(pk=User)
@require_http_methods(["GET", "POST"])
def toggle_staff_active(request, pk):
    """GET asks to confirm; POST deactivates (or reactivates) the account."""
    target = _managed_staff(request, pk)
    if request.method == "GET":
        action = "deactivate" if target.is_active else "reactivate"
        return render(request, "scrm/staff_confirm.html", {"target": target, "action": action})
    staff.set_active(user=target, active=not target.is_active, actor=request.user, ip=client_ip(request))
    if target.is_active:
        messages.success(request, _("%(name)s can log in again.") % {"name": target})
    else:
        messages.success(request, _("%(name)s can no longer log in.") % {"name": target})
    return redirect("staff-list")


class ApiKeyListView(ScopedListView):
    """Operators issue, review and revoke the API keys integrations use. A new key's secret is in the
    answer to the POST that created it and nowhere else (not in the session, not in a cache)."""

    allowed_roles = (Role.OPERATOR,)
    queryset = ApiKey.objects.select_related("store", "created_by").order_by("-created_at")
    filterset_class = ApiKeyFilterSet
    template_name = "scrm/api_key_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ApiKeyForm())
        context["now"] = timezone.now()
        context["labels"] = {name: res.label for name, res in scope_registry.resources().items()}
        return context

    def post(self, request, *args, **kwargs):
        form = ApiKeyForm(request.POST)
        issued = None
        if form.is_valid():
            try:
                issued = api_keys.issue(
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    store=form.cleaned_data["store"],
                    expires_at=form.expires_at(),
                    created_by=request.user,
                )
            except InvalidInput as exc:
                for field, problems in exc.details.items():
                    form.add_error(
                        field if field in form.fields else None, exc.message if field == "scopes" else problems
                    )
        self.object_list = self.get_queryset()
        if issued is None:
            return self.render_to_response(self.get_context_data(form=form), status=400)
        new_key = {"name": issued.api_key.name, "key": issued.plaintext, "api_key": issued.api_key}
        response = self.render_to_response(self.get_context_data(new_key=new_key), status=201)
        add_never_cache_headers(response)  # the secret must not outlive this answer
        return response


@scoped_view(pk=ApiKey)
@require_POST
def revoke_api_key(request, pk):
    if not api_keys.can_manage_keys(request.user):
        raise PermissionDenied
    key = get_visible_or_404(ApiKey, request.user, pk=pk)
    api_keys.revoke(api_key=key, actor=request.user)
    messages.success(request, _("API key %(name)s revoked.") % {"name": key.name})
    return redirect("api-key-list")
