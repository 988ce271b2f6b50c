"""Points screens: the rewards catalogue, the policy, a member's whole points history, redemptions,
and the member 360 panel's actions (redeem at the till, cancel a redemption, adjust)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.points import queries, services
from loyalty.points.filters import PointEntryFilterSet, RedemptionFilterSet, RewardFilterSet
from loyalty.points.forms import PolicyForm, RewardForm
from loyalty.points.models import PointEntry, PointsPolicy, Redemption, Reward
from members.models import Member
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import get_visible_or_404


def _error_text(exc: ServiceError) -> str:
    if exc.code != "validation_error":
        return exc.message
    details = " ".join(str(m) for msgs in exc.details.values() for m in (msgs if isinstance(msgs, list) else [msgs]))
    return details or exc.message


class RewardListView(ScopedListView):
    """The catalogue: every role sees it; operators add and edit rewards."""

    queryset = Reward.objects.all()
    filterset_class = RewardFilterSet
    template_name = "points/reward_list.html"
    partial_template_name = "points/_reward_rows.html"


class RedemptionListView(ScopedListView):
    """Redemptions of the members the user may see, newest first; store roles see their store's."""

    queryset = Redemption.objects.select_related("member", "reward", "created_by", "store")
    filterset_class = RedemptionFilterSet
    template_name = "points/redemption_list.html"
    partial_template_name = "points/_redemption_rows.html"
    allowed_roles = (Role.OPERATOR, Role.STORE_MANAGER)


class MemberPointsView(ScopedListView):
    """A member's whole points ledger, with their open lots."""

    queryset = PointEntry.objects.select_related("actor", "redemption", "order")
    filterset_class = PointEntryFilterSet
    template_name = "points/member_points.html"
    partial_template_name = "points/_entry_rows.html"
    parent_queryset = Member.live.select_related("home_store")
    parent_field = "member"
    parent_attr = "member"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(member=self.member, summary=queries.member_summary(self.member, entries=0))
        return context


@scoped_view(pk=Reward)
def reward_edit(request, pk=None):
    if not services.can_edit_rewards(request.user):
        raise PermissionDenied
    reward = get_visible_or_404(Reward, request.user, pk=pk) if pk else None
    form = RewardForm(request.POST or None, instance=reward)
    if request.method == "POST":
        if "delete" in request.POST and reward is not None:
            try:
                services.delete_reward(actor=request.user, reward=reward)
            except ServiceError as exc:
                messages.error(request, exc.message)
                return redirect("reward-edit", pk=reward.pk)
            messages.success(request, _("Reward %(name)s deleted.") % {"name": reward.name})
            return redirect("reward-list")
        if form.is_valid():
            values = {name: form.cleaned_data[name] for name in RewardForm.Meta.fields}
            try:
                saved = services.save_reward(
                    actor=request.user, values=values, reward=Reward.objects.get(pk=pk) if pk else None
                )
            except ServiceError as exc:
                for field, msgs in exc.details.items():
                    form.add_error(field if field in form.fields else None, msgs)
            else:
                messages.success(request, _("Reward %(name)s saved.") % {"name": saved.name})
                return redirect("reward-list")
    return render(request, "points/reward_form.html", {"form": form, "reward": reward})


@scoped_view
def policy_edit(request):
    if not services.can_edit_policy(request.user):
        raise PermissionDenied
    policy = PointsPolicy.current()
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_policy(actor=request.user, values=dict(form.cleaned_data))
        except ServiceError as exc:
            for field, msgs in exc.details.items():
                form.add_error(field if field in form.fields else None, msgs)
        else:
            messages.success(request, _("Points policy saved."))
            return redirect("points-policy")
    return render(
        request,
        "points/policy_form.html",
        {"form": form, "policy": policy, "tier_names": sorted(_tier_names().items())},
    )


def _tier_names():
    from loyalty.points import tiering

    return tiering.level_names()


# --- Member 360 panel actions (htmx; a plain POST redirects back) --------------------------------------


def _member(request, pk) -> Member:
    return get_visible_or_404(Member.live.select_related("home_store"), request.user, pk=pk)


def _panel(request, member, *, message=None, error=None, review=None):
    mobile = request.POST.get("from") == "mobile"
    context = {
        "member": member,
        "mobile": mobile,
        "panel_context": queries.member_panel(member, request.user),
        "points_message": message,
        "points_error": error,
        "review": review,
    }
    if request.htmx:
        return render(request, "points/_member_panel.html", context)
    if review:
        # Without script the confirmation step is a page of its own, in the layout the form came from.
        return render(request, "points/redeem_confirm.html", context)
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, message)
    name = "mobile-member-detail" if mobile else "member-detail"
    return redirect(reverse(name, args=[member.pk]) + "#points")


REDEEM_CLAIM_SECONDS = 24 * 3600


def _not_enough(choice: dict, balance: int) -> str:
    return _("Not enough points: %(reward)s needs %(cost)s pts, the balance is %(balance)s (%(short)s short).") % {
        "reward": choice["reward"].name,
        "cost": choice["reward"].points_cost,
        "balance": balance,
        "short": choice["shortfall"],
    }


def _review(request, member, reward_id: str):
    """The confirmation step: the reward, its cost and the balance after, as the server sees them
    now, with a one-time token that the confirming POST spends."""
    panel = queries.member_panel(member, request.user)
    if not reward_id:
        if not panel["any_redeemable"]:
            return _panel(request, member, error=_("Not enough points for any reward."))
        return _panel(request, member, error=_("Pick a reward first."))
    choice = next((r for r in panel["rewards"] if str(r["reward"].pk) == reward_id), None)
    if choice is None:
        return _panel(request, member, error=_("This reward cannot be redeemed now (inactive, out of stock or ended)."))
    if not choice["affordable"]:
        return _panel(request, member, error=_not_enough(choice, panel["balance"]))
    if not choice["tier_ok"]:
        return _panel(request, member, error=_("%(reward)s is for a higher tier.") % {"reward": choice["reward"].name})
    cost = choice["reward"].points_cost
    review = {
        "reward": choice["reward"],
        "cost": cost,
        "balance": panel["balance"],
        "after": panel["balance"] - cost,
        "token": uuid.uuid4().hex,
        "note": request.POST.get("note", "")[:200],
    }
    return _panel(request, member, review=review)


def _claim_key(member, token: str) -> str:
    return f"points:redeem-form:{member.pk}:{token}"


@scoped_view(pk=Member)
@require_POST
def member_redeem(request, pk):
    """Redeeming at the till in two steps: choosing a reward shows what it costs and the balance after
    (`_review`); confirming spends the step's token once, so a double tap or a resent form redeems
    once. The service refuses a short balance whatever the form says."""
    if not services.can_redeem(request.user):
        raise PermissionDenied
    member = _member(request, pk)
    step = request.POST.get("step", "review")
    reward_id = (request.POST.get("reward") or "").strip()
    if step == "back":
        return _panel(request, member)
    if step != "confirm":
        return _review(request, member, reward_id)
    token = request.POST.get("token") or ""
    if not reward_id or len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
        return _panel(request, member, error=_("This confirmation is not valid any more; choose the reward again."))
    key = _claim_key(member, token)
    if not cache.add(key, "pending", REDEEM_CLAIM_SECONDS):
        done = cache.get(key)
        redemption = Redemption.objects.filter(pk=done, member=member).select_related("reward").first()
        if redemption is None:
            return _panel(request, member, error=_("This redemption is already being processed."))
        return _panel(
            request,
            member,
            message=_("%(reward)s was already redeemed for %(points)s pts; nothing was deducted again.")
            % {"reward": redemption.reward.name, "points": redemption.points},
        )
    try:
        reward = services.reward_for(reward_id)
        redemption = services.redeem(
            member=member, reward=reward, actor=request.user, note=request.POST.get("note", "")
        )
    except ServiceError as exc:
        cache.delete(key)
        return _panel(request, member, error=_error_text(exc))
    cache.set(key, redemption.pk, REDEEM_CLAIM_SECONDS)
    return _panel(
        request,
        member,
        message=_("%(reward)s redeemed for %(points)s pts.") % {"reward": reward.name, "points": redemption.points},
    )


@scoped_view(pk=Member, redemption_id=Redemption)
@require_POST
def member_cancel_redemption(request, pk, redemption_id):
    if not services.can_redeem(request.user):
        raise PermissionDenied
    member = _member(request, pk)
    redemption = get_visible_or_404(Redemption.objects.filter(member=member), request.user, pk=redemption_id)
    try:
        services.cancel_redemption(redemption=redemption, actor=request.user, reason=request.POST.get("reason", ""))
    except ServiceError as exc:
        return _panel(request, member, error=_error_text(exc))
    return _panel(
        request, member, message=_("Redemption cancelled; %(points)s pts returned.") % {"points": redemption.points}
    )


@scoped_view(pk=Member)
@require_POST
def member_adjust(request, pk):
    if not services.can_adjust(request.user):
        raise PermissionDenied
    member = _member(request, pk)
    try:
        entry = services.adjust_points(
            member=member,
            points=request.POST.get("points", ""),
            reason=request.POST.get("reason", ""),
            actor=request.user,
        )
    except ServiceError as exc:
        return _panel(request, member, error=_error_text(exc))
    return _panel(request, member, message=_("Adjusted by %(points)+d pts.") % {"points": entry.delta})
