"""Screens: channel codes (list with counts, create / edit / deactivate, QR downloads) for operators
and store managers (their store's codes), and the WeCom corp tags page (operators)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from members.models import Tag, TagGroup
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role, Store
from scrm.scoping import get_visible_or_404, scope
from wecom.models import ChannelCode, ChannelPurpose, WecomStaff
from wecom.services import channels as services
from wecom.services import tags as tag_services
from wecom.services import welcome


class ChannelCodeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=services.NAME_MAX)
    purpose = forms.ChoiceField(label=gettext_lazy("For"), choices=ChannelPurpose.choices)
    store = forms.ModelChoiceField(label=gettext_lazy("Store"), queryset=Store.objects.none(), required=False,
                                   help_text=gettext_lazy("Empty: a brand-wide campaign code (operators only)."))
    staff = forms.ModelMultipleChoiceField(label=gettext_lazy("WeCom staff"), queryset=WecomStaff.objects.none())
    tags = forms.ModelMultipleChoiceField(label=gettext_lazy("Tags for new contacts"), required=False,
                                          queryset=Tag.objects.none())
    skip_verify = forms.BooleanField(label=gettext_lazy("Add without the staff member's confirmation"),
                                     required=False, initial=True)
    welcome_enabled = forms.BooleanField(label=gettext_lazy("Send a welcome message"), required=False)
    welcome_text = forms.CharField(label=gettext_lazy("Welcome message (plain text, at most 4,000 bytes)"),
                                   widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = scope(Store.objects.all(), user)
        self.fields["staff"].queryset = services.staff_choices(user).select_related("store")
        self.fields["tags"].queryset = services.tag_choices()
        self.fields["staff"].label_from_instance = lambda s: f"{s} ({s.store or '-'})"
        self.fields["tags"].label_from_instance = lambda t: f"{t.group.name} · {t.name}"
        # in the reader's language, under the field it explains
        self.fields["welcome_text"].help_text = welcome.placeholders_help()
        self.fields["welcome_text"].widget.attrs["aria-describedby"] = f"{self['welcome_text'].auto_id}-help"


def _initial(code: ChannelCode) -> dict:
    return {
        "name": code.name, "purpose": code.purpose, "store": code.store, "staff": list(code.staff.all()),
        "tags": list(code.tags.all()), "skip_verify": code.skip_verify, "welcome_enabled": code.welcome_enabled,
        "welcome_text": code.welcome_text,
    }


class ChannelCodeListView(ScopedListView):
    """Channel codes with how many contacts each brought, still follow, churned, lately."""

    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = ChannelCode.objects.select_related("store").order_by("-created_at", "-id")
    template_name = "wecom/channels_list.html"
    partial_template_name = "wecom/channels_rows.html"

    def narrow(self, queryset):
        return services.with_counts(queryset)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_manage"] = services.can_manage_codes(self.request.user)
        return context


def _save(request, code=None):
    form = ChannelCodeForm(request.POST, user=request.user)
    if not form.is_valid():
        return None, form
    try:
        if code is None:
            code = services.create_code(actor=request.user, data=form.cleaned_data)
            messages.success(request, _("Channel code %(name)s added; WeCom creates it in a moment.") % {
                "name": code.name})
        else:
            code = services.update_code(code=code, actor=request.user, data=form.cleaned_data)
            messages.success(request, _("Channel code %(name)s saved.") % {"name": code.name})
        return code, None
    except ServiceError as exc:
        for field, errs in (exc.details or {}).items():
            for error in errs:
                form.add_error(field if field in form.fields else None, str(error))
        if not exc.details:
            form.add_error(None, exc.message)
        return None, form


@scoped_view
def code_create(request):
    if not services.can_manage_codes(request.user):
        raise PermissionDenied
    if request.method == "POST":
        code, form = _save(request)
        if code is not None:
            return redirect("wecom-channel-edit", code.pk)
        return render(request, "wecom/channels_form.html", {"form": form}, status=400)
    initial = {"store": request.user.store} if request.user.store_id else {}
    form = ChannelCodeForm(initial=initial, user=request.user)
    return render(request, "wecom/channels_form.html", {"form": form})


@scoped_view(pk=ChannelCode)
def code_edit(request, pk):
    if not services.can_manage_codes(request.user):
        raise PermissionDenied
    code = get_visible_or_404(services.visible_codes(request.user), request.user, pk=pk)
    status = 200
    if request.method == "POST":
        if "deactivate" in request.POST:
            services.deactivate_code(code=code, actor=request.user)
            messages.success(request, _("Channel code %(name)s deactivated; WeCom deletes it in a moment.") % {
                "name": code.name})
            return redirect("wecom-channel-list")
        saved, form = _save(request, code)
        if saved is not None:
            return redirect("wecom-channel-edit", code.pk)
        status = 400
    else:
        form = ChannelCodeForm(initial=_initial(code), user=request.user)
    return render(request, "wecom/channels_form.html", {"form": form, "code": code}, status=status)


@scoped_view(pk=ChannelCode)
def code_qr(request, pk, kind):
    if not services.can_see_codes(request.user):
        raise PermissionDenied
    code = get_visible_or_404(ChannelCode.objects.all(), request.user, pk=pk)
    data = services.qr_image(code, kind=kind)
    response = HttpResponse(data, content_type="image/svg+xml" if kind == "svg" else "image/png")
    if not request.GET.get("inline"):
        response["Content-Disposition"] = f'attachment; filename="channel-code-{code.pk}.{kind}"'
    return response


# --- corp tags ---------------------------------------------------------------------------------


class CorpTagsView(ScopedListView):
    """The member centre's tag groups and how each is kept with WeCom, the conflict rule, the last run."""

    allowed_roles = (Role.OPERATOR,)
    queryset = TagGroup.objects.select_related("wecom").order_by("sort_order", "name")
    template_name = "wecom/tags_page.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rule"] = tag_services.CONFLICT_RULE
        context["follow_rule"] = tag_services.FOLLOW_RULE
        context["last_run"] = tag_services.last_run()
        return context


@scoped_view
@require_POST
def tags_sync(request):
    if not tag_services.can_manage_tags(request.user):
        raise PermissionDenied
    run, created = tag_services.start_run(actor=request.user)
    if created:
        messages.success(request, _("Tag sync started."))
    else:
        messages.info(request, _("A tag sync is already running."))
    return redirect("wecom-tags")


@scoped_view(pk=TagGroup)
@require_POST
def tag_group_link(request, pk):
    if not tag_services.can_manage_tags(request.user):
        raise PermissionDenied
    group = get_visible_or_404(TagGroup.objects.all(), request.user, pk=pk)
    tag_services.link_group(group=group, actor=request.user)
    messages.success(request, _("%(group)s is synced with WeCom from the next tag sync on.") % {"group": group.name})
    return redirect("wecom-tags")


urlpatterns = [
    path("wecom/channels/", ChannelCodeListView.as_view(), name="wecom-channel-list"),
    path("wecom/channels/new/", code_create, name="wecom-channel-create"),
    path("wecom/channels/<int:pk>/", code_edit, name="wecom-channel-edit"),
    path("wecom/channels/<int:pk>/qr.png", code_qr, {"kind": "png"}, name="wecom-channel-qr-png"),
    path("wecom/channels/<int:pk>/qr.svg", code_qr, {"kind": "svg"}, name="wecom-channel-qr-svg"),
    path("wecom/tags/", CorpTagsView.as_view(), name="wecom-tags"),
    path("wecom/tags/sync/", tags_sync, name="wecom-tags-sync"),
    path("wecom/tags/groups/<int:pk>/link/", tag_group_link, name="wecom-tag-group-link"),
]
