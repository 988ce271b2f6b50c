"""Referral screens: the public landing page of a code, commission rules and the commission list
(operators), and making a code from the member 360 panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.referrals import queries, services
from loyalty.referrals.filters import CommissionFilterSet, CommissionRuleFilterSet
from loyalty.referrals.forms import CommissionRuleForm
from loyalty.referrals.models import Commission, CommissionRule, CommissionStatus
from members.models import Member
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import get_visible_or_404


def landing(request, code):
    """What a friend's link opens: the brand and the code, nothing about the member behind it."""
    found = services.find_code(code)
    if found is None:
        raise Http404
    return render(request, "referrals/landing.html", {"code": found.code})


@scoped_view(pk=Member)
@require_POST
def create_code(request, pk):
    member = get_visible_or_404(Member.live, request.user, pk=pk)
    try:
        services.ensure_code(member=member)
    except ServiceError as exc:
        messages.error(request, exc.message)
    name = "mobile-member-detail" if request.POST.get("from") == "mobile" else "member-detail"
    return redirect(reverse(name, args=[member.pk]) + "#referrals")


class CommissionRuleListView(ScopedListView):
    """The rules that decide what referred orders earn, with a form to add one."""

    allowed_roles = (Role.OPERATOR,)
    queryset = CommissionRule.objects.all()
    filterset_class = CommissionRuleFilterSet
    template_name = "referrals/rule_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", kwargs.get("form") or CommissionRuleForm())
        return context


def _save_rule(request, rule=None):
    form = CommissionRuleForm(request.POST)
    if form.is_valid():
        try:
            if rule is None:
                rule = services.create_rule(data=form.cleaned_data, actor=request.user)
                messages.success(request, _("Rule %(name)s added.") % {"name": rule.name})
            else:
                rule = services.update_rule(rule=rule, data=form.cleaned_data, actor=request.user)
                messages.success(request, _("Rule %(name)s saved.") % {"name": rule.name})
            return None
        except ServiceError as exc:
            for field, errors in exc.details.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    return form


@scoped_view
def rule_create(request):
    if not services.can_change_rules(request.user):
        raise PermissionDenied
    if request.method != "POST":
        return redirect("commission-rule-list")
    form = _save_rule(request)
    if form is None:
        return redirect("commission-rule-list")
    view = CommissionRuleListView()
    view.setup(request)
    view.object_list = view.get_queryset()
    return render(request, view.template_name, view.get_context_data(form=form), status=400)


@scoped_view(pk=CommissionRule)
def rule_edit(request, pk):
    if not services.can_change_rules(request.user):
        raise PermissionDenied
    rule = get_visible_or_404(CommissionRule, request.user, pk=pk)
    if request.method == "POST":
        if "delete" in request.POST:
            services.delete_rule(rule=rule, actor=request.user)
            messages.success(request, _("Rule %(name)s deleted.") % {"name": rule.name})
            return redirect("commission-rule-list")
        form = _save_rule(request, rule)
        if form is None:
            return redirect("commission-rule-list")
        status = 400
    else:
        form = CommissionRuleForm(initial={f: getattr(rule, f) for f in services.RULE_FIELDS})
        status = 200
    return render(request, "referrals/rule_edit.html", {"form": form, "rule": rule}, status=status)


class CommissionListView(ScopedListView):
    """Commissions with their order, referrer and why they are what they are; operators tick payable
    ones and mark them paid in one go. Store managers see their members' commissions."""

    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)
    queryset = Commission.objects.select_related("order", "referrer", "referred_member")
    filterset_class = CommissionFilterSet
    template_name = "referrals/commission_list.html"
    partial_template_name = "referrals/_commission_rows.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["totals"] = queries.commission_totals(self.object_list)
        context["statuses"] = CommissionStatus
        return context


@scoped_view
@require_POST
def mark_paid(request):
    if not services.can_mark_paid(request.user):
        raise PermissionDenied
    ids = request.POST.getlist("ids")
    try:
        n = services.mark_paid(commission_ids=ids, actor=request.user)
        messages.success(request, _("%(n)s commissions marked paid.") % {"n": n})
    except ServiceError as exc:
        detail = " ".join(str(m) for msgs in exc.details.values() for m in msgs)
        messages.error(request, detail or exc.message)
    return redirect(reverse("commission-list") + ("?" + request.POST["query"] if request.POST.get("query") else ""))
