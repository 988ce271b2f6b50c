"""Screens of staff tasks: the phone's "my tasks" page (/tasks/m/) beside the Today section, the taps
(done with an outcome, skip, take from the pool) answered to htmx with the task's new card (or nothing,
so it leaves the list), and the store's board for managers and operators (/tasks/): open tasks by
staff, overdue first, reassign, filters, figures and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from journeys import journey_screens, queries
from journeys.filters import TaskFilterSet
from journeys.models import Task, TaskOutcome, TaskState
from journeys.services import task_settings
from journeys.services import tasks as services
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.files import neutralise
from scrm.models import Role, User
from scrm.scoping import get_visible_or_404, scope

WHEN = ("today", "overdue", "upcoming")
FIGURES_DAYS = 30


def _is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False) and not request.htmx.boosted)


def _back(request, default: str):
    target = request.POST.get("next") or request.headers.get("Referer", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse(default))


class PhoneTasksView(ScopedListView):
    """All my open tasks on the phone: due today (overdue included), only overdue, or upcoming; with
    `all=1` the whole store's open tasks (mine, colleagues' and the pool's), whenever due."""

    queryset = Task.objects.all()
    template_name = "journeys/m_tasks.html"
    paginate_by = queries.PHONE_PAGE

    def when(self) -> str:
        value = self.request.GET.get("when", "today")
        return value if value in WHEN else "today"

    def whole_store(self) -> bool:
        return self.request.GET.get("all") == "1"

    def narrow(self, queryset):
        if self.whole_store():
            rows = queryset.filter(state=TaskState.OPEN)
        else:
            rows = queryset.filter(pk__in=queries.mine(self.request.user, when=self.when()).values("pk"))
        return queries.with_cards(rows).order_by("priority", "due_at", "id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(when="all" if self.whole_store() else self.when(), outcomes=TaskOutcome.choices,
                       pool=list(queries.with_cards(queries.pool(self.request.user))[:queries.POOL_SHOWN]))
        return context


class TaskBoardView(ScopedListView):
    """The store's tasks for managers and operators, overdue first (open ones unless a state is asked)."""

    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = Task.objects.all()
    filterset_class = TaskFilterSet
    template_name = "journeys/board.html"
    partial_template_name = "journeys/_board_rows.html"

    def narrow(self, queryset):
        if not self.request.GET.get("state"):
            queryset = queryset.filter(state=TaskState.OPEN)
        return queries.board(queryset.select_related("store", "member", "assignee"))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = context["object_list"]
        since = timezone.now() - dt.timedelta(days=FIGURES_DAYS)
        store = self.filterset.form.cleaned_data.get("store") if self.filterset.is_bound and \
            self.filterset.is_valid() else None
        context.update(
            staff=queries.assignable_staff(self.request.user, {t.store_id for t in rows}),
            figures=queries.figures(self.request.user, since=since, store_id=getattr(store, "pk", None)),
            figures_days=FIGURES_DAYS, now=timezone.now(),
            can_read_settings=task_settings.can_read(self.request.user),
        )
        return context


def _card(request, task: Task, *, pool: bool = False) -> HttpResponse:
    task = queries.with_cards(Task.objects.filter(pk=task.pk)).get()
    return render(request, "journeys/_task_card.html", {"task": task, "outcomes": TaskOutcome.choices,
                                                         "in_pool": pool})


def _gone(request, message: str) -> HttpResponse:
    """htmx: nothing, so the card leaves the list; otherwise back where the tap came from."""
    if _is_htmx(request):
        return HttpResponse("")
    messages.success(request, message)
    return _back(request, "journeys-phone")


@require_POST
@scoped_view(pk=Task)
def task_done(request, pk: int):
    task = get_visible_or_404(Task, request.user, pk=pk)
    task = services.complete(task=task, actor=request.user, outcome=request.POST.get("outcome", ""),
                             note=request.POST.get("note", ""))
    return _gone(request, _("Done: %(title)s (%(outcome)s).") % {"title": task.title_text,
                                                                 "outcome": task.get_outcome_display()})


@require_POST
@scoped_view(pk=Task)
def task_skip(request, pk: int):
    task = get_visible_or_404(Task, request.user, pk=pk)
    task = services.skip(task=task, actor=request.user, reason=request.POST.get("reason", ""))
    return _gone(request, _("Skipped: %(title)s.") % {"title": task.title_text})


@require_POST
@scoped_view(pk=Task)
def task_claim(request, pk: int):
    task = services.claim(task=get_visible_or_404(Task, request.user, pk=pk), actor=request.user)
    if _is_htmx(request):
        return _card(request, task)
    messages.success(request, _("The task is yours: %(title)s.") % {"title": task.title_text})
    return _back(request, "journeys-phone")


@require_POST
@scoped_view(pk=Task)
def task_reassign(request, pk: int):
    task = get_visible_or_404(Task, request.user, pk=pk)
    raw = request.POST.get("assignee", "")
    assignee = None
    if raw:
        assignee = scope(User.objects.filter(pk=int(raw) if raw.isdigit() else 0), request.user).first()
        if assignee is None:
            raise InvalidInput(_("No such staff member in your reach."), details={"assignee": [raw[:20]]})
    task = services.reassign(task=task, actor=request.user, assignee=assignee)
    who = str(task.assignee) if task.assignee_id else _("the store's pool")
    messages.success(request, _("Given to %(who)s: %(title)s.") % {"who": who, "title": task.title_text})
    return _back(request, "journeys-board")


class _Echo:
    def write(self, value):
        return value


@require_GET
@scoped_view
def task_export(request):
    """The board's tasks (its filters; every state unless one is asked) as CSV, at most 50,000 rows."""
    if not services.sees_board(request.user):
        raise PermissionDenied
    filterset = TaskFilterSet(data=request.GET or None, queryset=Task.objects.visible_to(request.user),
                              request=request)
    rows = filterset.qs if filterset.is_valid() else Task.objects.none()
    writer = csv.writer(_Echo())
    lines = (writer.writerow([neutralise(str(cell)) for cell in row]) for row in queries.export_rows(rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tasks-{timezone.localdate().isoformat()}.csv"'
    return response


urlpatterns = [
    path("tasks/", TaskBoardView.as_view(), name="journeys-board"),
    path("tasks/export.csv", task_export, name="journeys-export"),
    path("tasks/m/", PhoneTasksView.as_view(), name="journeys-phone"),
    path("tasks/<int:pk>/done/", task_done, name="journeys-task-done"),
    path("tasks/<int:pk>/skip/", task_skip, name="journeys-task-skip"),
    path("tasks/<int:pk>/claim/", task_claim, name="journeys-task-claim"),
    path("tasks/<int:pk>/reassign/", task_reassign, name="journeys-task-reassign"),
    *journey_screens.urlpatterns,
]
