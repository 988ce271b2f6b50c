"""Dashboard screens of mentors' templates and of editing a level's benefit.

A mentor's templates are shared from the mentor's creator page (staff record them on the mentor's
behalf); the mentee's page shows the templates from their mentor. A benefit is edited, or switched
off, inline on the levels page. Refusals come back on the page, beside the field they name (400)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from koc.forms import BenefitForm, apply_errors
from koc.models import Benefit, Creator, Platform
from scrm.dashboard import scoped_view
from scrm.errors import ServiceError
from scrm.scoping import get_visible_or_404


class MentorTemplateForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
    body = forms.CharField(label=gettext_lazy("Template"), max_length=8000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=gettext_lazy("A post outline or a shot list the mentees can follow."))
    platform = forms.ChoiceField(label=gettext_lazy("Platform"), required=False,
                                 choices=[("", gettext_lazy("Any platform"))] + list(Platform.choices))


class BenefitEditForm(BenefitForm):
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False,
                                help_text=gettext_lazy("Switched off, nobody holds it; its history stays."))

    def values(self) -> dict:
        return super().values() | {"active": self.cleaned_data["active"]}


def benefit_edit_form(benefit: Benefit, communities, data=None) -> BenefitEditForm:
    initial = {"level": benefit.level_id, "kind": benefit.kind, "name": benefit.name,
               "early_days": benefit.early_days, "community": benefit.community_id,
               "description": benefit.description, "active": benefit.active}
    return BenefitEditForm(data, initial=initial, communities=communities, prefix=f"benefit-{benefit.pk}")


# --- mentor templates -----------------------------------------------------------------------------


@scoped_view(pk=Creator)
@require_POST
def mentor_template_share(request, pk: int):
    from koc import views
    from koc.services import rights

    creator = views._creator_for(request, pk)
    form = MentorTemplateForm(request.POST)
    if form.is_valid():
        try:
            rights.share_template(mentor=creator, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            if exc.status != 400:
                raise  # a refusal (403): shown by the middleware
            for problem in exc.details.pop("mentor", []):  # not the form's field: above the form
                form.add_error(None, str(problem))
            if exc.details or not form.errors:
                apply_errors(form, exc)
        else:
            messages.success(request, _("Template shared with the mentees of %(name)s.")
                             % {"name": creator.member.name})
            return redirect("koc-creator-detail", pk=creator.pk)
    return render(request, "koc/creator_detail.html", views._creator_context(request, creator) | {
        "mentor_template_form": form}, status=400)


# --- benefits -------------------------------------------------------------------------------------


@scoped_view
@require_POST
def benefit_edit(request):
    """The benefit edited is named by the form's `benefit` field (benefits are the brand's, not a store's)."""
    from koc import views
    from koc.services import rights

    views._forbid_unless(views.can_write_programme(request.user))
    benefit = get_visible_or_404(Benefit.objects.all(), request.user, pk=request.POST.get("benefit") or 0)
    form = benefit_edit_form(benefit, views._communities(request.user), data=request.POST)
    if form.is_valid():
        try:
            benefit = rights.save_benefit(actor=request.user, benefit=benefit, **form.values())
        except ServiceError as exc:
            for ours, theirs in (("level", "level_id"), ("community", "community_id")):
                if theirs in exc.details:
                    exc.details[ours] = exc.details.pop(theirs)
            apply_errors(form, exc)
        else:
            messages.success(request, _("Benefit %(name)s saved; holders brought in line.") % {"name": benefit.name})
            return redirect("koc-level-list")
    return render(request, "koc/level_list.html", views._levels_context(request) | {
        "benefit_edit_forms": {benefit.pk: form}}, status=400)


urlpatterns = [
    path("koc/creators/<int:pk>/templates/", mentor_template_share, name="koc-mentor-template-share"),
    path("koc/levels/benefits/edit/", benefit_edit, name="koc-benefit-edit"),
]
