"""Screens: handovers. The list (operators see every store's, store managers their own), the form
that starts one (staff pickers cut to the user's stores), and a handover's page with its counts by
status and its customers and customer groups, refreshed by htmx while it runs; queued customers and
groups can be cancelled."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from members.models import Member
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import get_visible_or_404
from wecom.handover_filters import HandoverFilterSet, HandoverItemFilterSet
from wecom.models import Handover, HandoverGroup, HandoverItem, HandoverKind, HandoverStatus, WecomStaff
from wecom.services import handover as service

# Groups listed on a handover's page (a leaver owns a few dozen; the counts cover them all).
GROUPS_SHOWN = 300

ROLES = (Role.OPERATOR, Role.STORE_MANAGER)


class HandoverForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The staff member"), choices=HandoverKind.choices,
                             widget=forms.RadioSelect, initial=HandoverKind.ON_JOB)
    from_staff = forms.ModelChoiceField(label=gettext_lazy("Hand over the customers of"),
                                        queryset=WecomStaff.objects.none())
    to_staff = forms.ModelChoiceField(label=gettext_lazy("To"), queryset=WecomStaff.objects.none())
    external_userids = forms.CharField(
        label=gettext_lazy("Only these customers (optional)"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("WeCom external_userids, one a line. Empty: every customer of the staff member "
                               "and the customer groups they own."),
    )
    message = forms.CharField(
        label=gettext_lazy("Message to the customers"), required=False, max_length=service.MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Sent by WeCom when the takeover succeeds; only for staff still employed."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        choices = service.staff_choices(user)
        self.fields["from_staff"].queryset = choices
        self.fields["to_staff"].queryset = choices.filter(status="active")
        for name in ("from_staff", "to_staff"):
            self.fields[name].label_from_instance = _staff_label

    def request(self) -> service.HandoverRequest:
        data = self.cleaned_data
        ids = [line.strip() for line in data["external_userids"].splitlines() if line.strip()]
        return service.HandoverRequest(
            kind=data["kind"], from_staff=data["from_staff"].pk, to_staff=data["to_staff"].pk,
            external_userids=ids or None, message=data["message"],
        )


def _staff_label(staff) -> str:
    store = staff.store.name if staff.store else _("no store")
    status = "" if staff.status == "active" else f" · {staff.get_status_display()}"
    return f"{staff.name or staff.userid} ({staff.userid}) · {store}{status}"


class HandoverListView(ScopedListView):
    allowed_roles = ROLES
    queryset = Handover.objects.select_related("from_staff", "to_staff", "store", "created_by")
    filterset_class = HandoverFilterSet
    template_name = "wecom/handover_list.html"
    partial_template_name = "wecom/handover_rows.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_hand_over"] = service.can_hand_over(self.request.user)
        rows = list(context["object_list"])
        counts = service.counts_for([h.pk for h in rows])
        group_counts = service.group_counts_for([h.pk for h in rows])
        for h in rows:
            h.item_counts, h.group_counts = counts[h.pk], group_counts[h.pk]
        context["object_list"] = rows
        return context


@scoped_view
def handover_create(request):
    if not service.can_hand_over(request.user):
        raise PermissionDenied
    form = HandoverForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                handover = service.create_handover(actor=request.user, request=form.request())
            except ServiceError as exc:
                for field, errors in (exc.details or {}).items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                if not exc.details:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, _("Handover started."))
                return redirect("wecom-handover-detail", pk=handover.pk)
        status = 400
    return render(request, "wecom/handover_form.html", {"form": form}, status=status)


class HandoverDetailView(ScopedListView):
    """A handover's page: who to whom, counts by status, its customers (paged, filterable by
    status) and its groups. Its htmx partial is the progress block the page polls while the handover
    runs."""

    allowed_roles = ROLES
    queryset = HandoverItem.objects.select_related("contact__member").order_by("id")
    filterset_class = HandoverItemFilterSet
    parent_queryset = Handover.objects.select_related("from_staff", "to_staff", "store", "created_by")
    parent_field = "handover"
    parent_attr = "handover"
    template_name = "wecom/handover_detail.html"
    partial_template_name = "wecom/handover_progress.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        items = list(context["object_list"])
        group_counts = service.group_status_counts(self.handover)
        member_ids = {i.contact.member_id for i in items if i.contact.member_id}
        visible = set(Member.live.visible_to(self.request.user).filter(pk__in=member_ids).values_list("pk", flat=True))
        context.update(
            handover=self.handover, items=items, visible_members=visible,
            status_counts=service.status_counts(self.handover),
            group_counts=group_counts, group_total=sum(c["count"] for c in group_counts),
            groups=list(HandoverGroup.objects.visible_to(self.request.user).filter(handover=self.handover)
                        .select_related("group").order_by("id")[:GROUPS_SHOWN]),
            running=self.handover.status == HandoverStatus.RUNNING,
            can_cancel=service.can_hand_over(self.request.user) and self.handover.status == HandoverStatus.RUNNING,
        )
        return context


@scoped_view(pk=Handover)
@require_POST
def handover_cancel(request, pk):
    handover = get_visible_or_404(Handover, request.user, pk=pk)
    try:
        n = service.cancel_queued(handover=handover, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s queued customers cancelled.") % {"n": n})
    return redirect(reverse("wecom-handover-detail", args=[handover.pk]))


urlpatterns = [
    path("wecom/handovers/", HandoverListView.as_view(), name="wecom-handover-list"),
    path("wecom/handovers/new/", handover_create, name="wecom-handover-create"),
    path("wecom/handovers/<int:pk>/", HandoverDetailView.as_view(), name="wecom-handover-detail"),
    path("wecom/handovers/<int:pk>/cancel/", handover_cancel, name="wecom-handover-cancel"),
]
