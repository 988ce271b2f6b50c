"""Screens: callbacks. WeCom's encrypted callback endpoint (/wecom/callback/: URL check and events,
answered at once, processed by workers) and the operators' events page with its "retry failed"."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from scrm.dashboard import ScopedListView, scoped_view
from scrm.models import Role
from wecom.event_filters import CallbackEventFilterSet
from wecom.models import CallbackEvent, EventStatus
from wecom.services import callbacks as receiver
from wecom.services import events as service
from wecom.services.connection import can_manage_wecom

logger = logging.getLogger(__name__)

# Reasons the service writes into an ignored event's `error`, worded when shown.
REASON_LABELS = {
    service.NO_HANDLER: gettext_lazy("No handler for this event type"),
    service.ERASED: gettext_lazy("Names a contact erased on a data-subject request"),
    service.UNPARSEABLE: gettext_lazy("Signed correctly but could not be decrypted or parsed"),
}


def _plain(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request):
    """WeCom's callback: GET is the URL check (answers echostr's plaintext), POST an event (answers
    "success" once it is stored). Signed by WeCom, not signed in: no session, no CSRF token."""
    query = request.GET
    signed = {name: query.get(name, "") for name in ("msg_signature", "timestamp", "nonce")}
    try:
        if request.method == "GET":
            return _plain(receiver.verify_url(echostr=query.get("echostr", ""), **signed))
        body = request.read(receiver.BODY_MAX + 1)
        receiver.receive(body=body, **signed)
    except receiver.Refused as refused:
        logger.warning("wecom callback refused (%s %s): %s", request.method, refused.status, refused.reason)
        return _plain("refused" if refused.status == 403 else refused.reason, refused.status)
    return _plain("success")


class EventListView(ScopedListView):
    """Callback events, newest first, with counts by status; an event's fields show WeCom's ids
    (userid, external_userid, chat and tag ids) and nothing else personal. The table grows with every
    callback: pages go by id (?before= / ?after=) and the counts stop at "10,000+", so no request
    counts the whole table."""

    allowed_roles = (Role.OPERATOR,)
    queryset = CallbackEvent.objects.order_by("-id")
    filterset_class = CallbackEventFilterSet
    template_name = "wecom/events_list.html"
    partial_template_name = "wecom/events_rows.html"
    paginate_by = 50

    def paginate_queryset(self, queryset, page_size):
        page = service.keyset_page(queryset, before=self.request.GET.get("before"),
                                   after=self.request.GET.get("after"), size=page_size)
        return None, page, page.rows, page.has_other_pages

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        counts = service.capped_status_counts(self.visible(CallbackEvent.objects.all()))
        context["status_counts"] = [
            (value, label, _capped(counts[value]), counts[value]) for value, label in EventStatus.choices
        ]
        context["failed_count"] = counts[EventStatus.FAILED]
        rows = list(context["object_list"])
        for row in rows:
            row.shown_fields = service.shown_fields(row, headers=False)
            row.reason = _reason(row)
        context["object_list"] = rows
        query = self.request.GET.copy()
        for name in ("before", "after", "page"):
            query.pop(name, None)
        context["querystring"] = query.urlencode()
        context["polled"] = bool(getattr(self.request, "htmx", False) and not self.request.htmx.boosted)
        return context


def _capped(n: int) -> str:
    """A count as shown: "10,000+" past the cap."""
    if n > service.COUNT_CAP:
        return f"{intcomma(service.COUNT_CAP)}+"
    return intcomma(n)


def _reason(row: CallbackEvent) -> str:
    if not row.error:
        return ""
    code = row.error.split(":", 1)[0]
    if code in REASON_LABELS and row.status == EventStatus.IGNORED:
        return str(REASON_LABELS[code])
    return row.error


@scoped_view
@require_POST
def retry_failed(request):
    """Put every failed event back to pending (the page's "retry failed"); a second POST finds none."""
    if not can_manage_wecom(request.user):
        raise PermissionDenied
    count = service.retry_failed()
    if count:
        messages.success(
            request,
            ngettext("%(count)d failed event will be processed again.",
                     "%(count)d failed events will be processed again.", count) % {"count": count},
        )
    else:
        messages.info(request, _("No failed events to retry."))
    return redirect("wecom-event-list")


urlpatterns = [
    path("wecom/callback/", callback, name="wecom-callback"),
    path("wecom/events/", EventListView.as_view(), name="wecom-event-list"),
    path("wecom/events/retry-failed/", retry_failed, name="wecom-event-retry"),
]
