"""The phone page of WeCom mass messages waiting for staff: each WeCom send is a task its staff
member confirms in their WeCom client, and this page lists them (a clerk their own, a store manager
their store's staff members', an operator every one) with the campaign, its text, how many customers
and the reminders; managers remind from here (the same service as the API's remind)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns.models import WecomMassTask, WecomTaskState
from campaigns.services import wecom_tasks
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import Conflict, Forbidden, InvalidInput
from scrm.scoping import get_visible_or_404


class WecomPendingView(ScopedListView):
    """WeCom sends still waiting for their staff member's confirmation (?all=1: also those sent or
    finished in the last 30 days)."""

    queryset = WecomMassTask.objects.select_related("campaign", "staff").order_by("-id")
    template_name = "campaigns/wecom_pending.html"
    paginate_by = 30

    def narrow(self, queryset):
        queryset = wecom_tasks.own_cut(queryset, self.request.user).filter(state=WecomTaskState.CREATED)
        if self.request.GET.get("all"):
            return queryset.filter(intended_at__gte=timezone.now() - dt.timedelta(days=30))
        return queryset.filter(finished_at__isnull=True, confirmed_at__isnull=True, cancelled_at__isnull=True)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context["rows"] = [(t, wecom_tasks.reminders_left(t, now)) for t in context["object_list"]]
        context["can_remind"] = wecom_tasks.can_manage(self.request.user)
        return context


@scoped_view(pk=WecomMassTask)
@require_POST
def wecom_remind(request, pk: int):
    task = get_visible_or_404(wecom_tasks.visible_tasks(request.user), request.user, pk=pk)
    try:
        wecom_tasks.remind(task=task, actor=request.user)
        messages.success(request, _("%(staff)s was reminded in WeCom.") % {"staff": task.staff or task.sender})
    except (Conflict, Forbidden, InvalidInput) as exc:
        messages.error(request, exc.message)
    return redirect("campaign-wecom-pending")


urlpatterns = [
    path("m/wecom-sends/", WecomPendingView.as_view(), name="campaign-wecom-pending"),
    path("m/wecom-sends/<int:pk>/remind/", wecom_remind, name="campaign-wecom-remind"),
]
