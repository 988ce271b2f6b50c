"""Screens of the contact syncs (operators): the runs with their progress and counts (polling
themselves while one is active), the buttons that start a full or an incremental sync, one run's
cursors per staff member and its failures in words (with a Cancel button while it is active), and the
WeCom staff with their links."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.models import STORE_ROLES, Role, User
from scrm.scoping import get_visible_or_404
from wecom import queries
from wecom.filters import SyncRunFilterSet
from wecom.models import SyncKind, SyncRun, WecomStaff
from wecom.services import staff as staff_services
from wecom.services import sync

OPERATORS = (Role.OPERATOR,)
STAFF_PAGE = 50
DETAIL_PAGE = 50


class SyncListView(ScopedListView):
    allowed_roles = OPERATORS
    queryset = SyncRun.objects.select_related("requested_by")
    filterset_class = SyncRunFilterSet
    template_name = "wecom/sync_list.html"
    partial_template_name = "wecom/sync_runs.html"
    paginate_by = 20

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        runs = queries.describe_all(context["object_list"])
        context["runs"] = runs
        context["polling"] = queries.any_active(runs)
        context["kinds"] = SyncKind
        if not (getattr(self.request, "htmx", False) and not self.request.htmx.boosted):
            staff = self.visible(WecomStaff.objects.select_related("user", "store").order_by("userid"))
            context["staff_page"] = Paginator(staff, STAFF_PAGE).get_page(self.request.GET.get("staff_page"))
            context["accounts"] = self.visible(
                User.objects.filter(is_active=True, role__in=STORE_ROLES, wecom=None).order_by("username")
            )[:500]
        return context


class SyncDetailView(ScopedDetailView):
    allowed_roles = OPERATORS
    queryset = SyncRun.objects.select_related("requested_by")
    template_name = "wecom/sync_detail.html"
    context_object_name = "run"

    def get_template_names(self):
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return ["wecom/sync_run.html"]
        return super().get_template_names()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        run = queries.describe(self.object)
        cursors = Paginator(queries.cursors_of(run), DETAIL_PAGE).get_page(self.request.GET.get("page"))
        failures = Paginator(queries.failures_of(run), DETAIL_PAGE).get_page(self.request.GET.get("failures_page"))
        context.update(
            run=run,
            cursors=cursors,
            cursor_rows=queries.worded_cursors(cursors),
            failures=failures,
            failure_rows=queries.worded_failures(failures),
            can_cancel=run.is_active and staff_services.can_manage_sync(self.request.user),
            # the Cancel button sits outside the polled block (a poll would take the form from under
            # its confirmation dialog); the poll that finds the run ended removes it out of band
            polled=bool(getattr(self.request, "htmx", False) and not self.request.htmx.boosted),
        )
        return context


@scoped_view
@require_POST
def start(request):
    if not staff_services.can_manage_sync(request.user):
        raise PermissionDenied
    kind = request.POST.get("kind", "")
    try:
        result = sync.start_run(kind=kind, actor=request.user)
    except InvalidInput:
        messages.error(request, _("Choose a full or an incremental sync."))
        return redirect("wecom-sync-list")
    if result.created:
        messages.success(request, _("The sync has started; this page follows it."))
    else:
        messages.info(request, _("A sync of this kind is already under way; here it is."))
    return redirect("wecom-sync-detail", pk=result.run.pk)


@scoped_view(pk=SyncRun)
@require_POST
def cancel(request, pk):
    if not staff_services.can_manage_sync(request.user):
        raise PermissionDenied
    run = get_visible_or_404(SyncRun.objects.all(), request.user, pk=pk)
    if sync.cancel_run(run_id=run.pk, actor=request.user):
        messages.success(request, _("The sync is cancelled; what it had written is kept."))
    else:
        messages.info(request, _("This sync had already ended; nothing was cancelled."))
    return redirect("wecom-sync-detail", pk=run.pk)


@scoped_view(pk=WecomStaff)
@require_POST
def link(request, pk):
    if not staff_services.can_manage_sync(request.user):
        raise PermissionDenied
    staff = get_visible_or_404(WecomStaff.objects.all(), request.user, pk=pk)
    raw = request.POST.get("user", "")
    user = None
    if raw:
        user = get_visible_or_404(User.objects.all(), request.user, pk=raw) if raw.isdigit() else None
        if user is None:
            messages.error(request, _("Choose a store account."))
            return redirect("wecom-sync-list")
    try:
        staff_services.link_staff(staff=staff, user=user, actor=request.user)
    except InvalidInput as exc:
        messages.error(request, "; ".join(str(m) for ms in exc.details.values() for m in ms))
        return redirect("wecom-sync-list")
    if user is None:
        messages.success(request, _("%(userid)s is no longer linked.") % {"userid": staff.userid})
    else:
        messages.success(request, _("%(userid)s is linked to %(account)s.")
                         % {"userid": staff.userid, "account": user.get_username()})
    return redirect("wecom-sync-list")


urlpatterns = [
    path("wecom/sync/", SyncListView.as_view(), name="wecom-sync-list"),
    path("wecom/sync/start/", start, name="wecom-sync-start"),
    path("wecom/sync/<int:pk>/", SyncDetailView.as_view(), name="wecom-sync-detail"),
    path("wecom/sync/<int:pk>/cancel/", cancel, name="wecom-sync-cancel"),
    path("wecom/staff/<int:pk>/link/", link, name="wecom-staff-link"),
]
