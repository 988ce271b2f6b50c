"""Tier screens: the ladder (everyone reads it, operators edit it), distribution and movement, and
the floor form of the member 360 panel."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.tiers import queries, services
from loyalty.tiers.forms import FloorForm, LadderForm, LevelFormSet
from members.models import Member
from scrm.dashboard import ScopedTemplateView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role, Store
from scrm.scoping import get_visible_or_404


class TierLadderView(ScopedTemplateView):
    template_name = "tiers/ladder.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        ladder = queries.ladder()
        levels = queries.levels()
        counts = queries.distribution(self.request.user)["per_level"]
        context.update(
            ladder=ladder,
            levels=[(lv, counts.get(lv.pk, 0)) for lv in levels],
            can_edit=services.can_edit_ladder(self.request.user),
        )
        return context


class TierLadderEditView(ScopedTemplateView):
    """The ladder editor: service errors land on the field (or the level's field) they name."""

    template_name = "tiers/ladder_edit.html"
    allowed_roles = (Role.OPERATOR,)

    def get(self, request, *args, **kwargs):
        ladder = queries.ladder()
        initial = [
            {
                "id": lv.pk,
                "rank": lv.rank,
                "name": lv.name,
                "threshold": lv.threshold,
                "benefits": lv.benefits,
                "colour": lv.colour,
            }
            for lv in queries.levels()
        ]
        return self.render_to_response(
            self.get_context_data(
                form=LadderForm(initial=LadderForm.initial_for(ladder)),
                formset=LevelFormSet(initial=initial, prefix="lv"),
            )
        )

    def post(self, request, *args, **kwargs):
        form = LadderForm(request.POST)
        formset = LevelFormSet(request.POST, prefix="lv")
        if form.is_valid() and formset.is_valid():
            # Every filled row (unchanged ones too); the empty extra row has no cleaned_data.
            kept = [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            levels = [
                {
                    "id": f.cleaned_data.get("id"),
                    "rank": f.cleaned_data["rank"],
                    "name": f.cleaned_data["name"],
                    "threshold": str(f.cleaned_data["threshold"]),
                    "benefits": f.cleaned_data.get("benefits", ""),
                    "colour": f.cleaned_data.get("colour", ""),
                }
                for f in kept
            ]
            try:
                services.save_ladder(actor=request.user, data={**form.cleaned_data, "levels": levels})
            except ServiceError as exc:
                _attach_errors(exc.details, form, kept)
            else:
                messages.success(request, _("Ladder saved. Every member is being recalculated."))
                return redirect("tier-ladder")
        return self.render_to_response(self.get_context_data(form=form, formset=formset), status=400)


def _attach_errors(details: dict, form, level_forms) -> None:
    for field, problems in details.items():
        if field == "levels" and isinstance(problems, dict):
            for index, fields in problems.items():
                level_form = level_forms[int(index)]
                for name, texts in fields.items():
                    for text in texts:
                        level_form.add_error(name if name in level_form.fields else None, text)
        else:
            for text in problems:
                form.add_error(field if field in form.fields else None, text)


class TierDistributionView(ScopedTemplateView):
    """Members per level (per store for operators) and the moves of the last 30 days."""

    template_name = "tiers/distribution.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        levels = queries.levels()
        figures = queries.distribution(user)
        peak = max(figures["per_level"].values(), default=0)
        rows = [
            {
                "level": lv,
                "n": figures["per_level"].get(lv.pk, 0),
                "width": round(100 * figures["per_level"].get(lv.pk, 0) / peak) if peak else 0,
            }
            for lv in levels
        ]
        stores = {s.pk: s for s in self.visible(Store.objects.filter(pk__in=[k for k in figures["per_store"] if k]))}
        per_store = sorted(
            (
                {
                    "store": stores.get(store_id),
                    "cells": [counts.get(lv.pk, 0) for lv in levels],
                    "total": sum(counts.values()),
                }
                for store_id, counts in figures["per_store"].items()
            ),
            key=lambda row: -row["total"],
        )
        context.update(
            levels=levels,
            rows=rows,
            total=figures["total"],
            per_store=per_store,
            movement=queries.movement(user, days=30),
            computed_at=figures["computed_at"],
        )
        return context


@scoped_view(pk=Member)
@require_POST
def set_floor(request, pk):
    member = get_visible_or_404(Member.live.select_related("home_store"), request.user, pk=pk)
    form = FloorForm(request.POST, levels=queries.levels())
    origin = request.POST.get("from")
    error = None
    if not form.is_valid():
        error = _("Choose a level of the ladder.")
    else:
        try:
            services.set_floor(
                member=member,
                level_id=form.cleaned_data["level"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ServiceError as exc:
            error = " ".join(str(m) for msgs in exc.details.values() for m in msgs) or exc.message
    if request.htmx:
        panel = queries.member_panel(member, request.user)
        panel["floor_error"] = error
        return render(request, "tiers/_member_panel.html", {"panel_context": panel, "mobile": origin == "mobile"})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Tier floor saved."))
    name = "mobile-member-detail" if origin == "mobile" else "member-detail"
    return redirect(reverse(name, args=[member.pk]) + "#tier")
