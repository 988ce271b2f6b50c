"""A campaign's lifecycle: draft -> approved -> scheduled -> sending <-> paused -> done, or cancelled
from any state before done. Every action is safe to repeat: asking for the state a campaign is
already in changes nothing and answers the campaign."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import channels, content
from campaigns.links import services as links
from campaigns.links import text as link_text
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryState,
    GroupDelivery,
    GroupDeliveryState,
    WecomMassTask,
)
from campaigns.services import attachments as attachment_service
from campaigns.services import fanout, recurrence
from members.segments.models import Segment
from scrm import permissions
from scrm.actors import actor_label, actor_user
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import Role, Store
from scrm.scoping import access_for

S = CampaignStatus
RESOURCE = "campaigns"


# --- who may ---------------------------------------------------------------------------------------


def can_approve(actor) -> bool:
    """Operators, store managers (their store's campaigns) and keys with the campaigns scope approve
    and send; store staff write drafts but never approve or send."""
    if getattr(actor, "api_key", None) is not None:
        return permissions.has_scope(actor, f"{RESOURCE}:write")
    return getattr(actor, "is_operator", False) or getattr(actor, "role", None) == Role.STORE_MANAGER


def _check_approver(actor) -> None:
    if not can_approve(actor):
        raise Forbidden(_("Store staff cannot approve or send campaigns."))


def _check_reach(campaign: Campaign, actor) -> None:
    if not access_for(actor).allows_store(campaign.store_id):
        raise NotInScope()


def _store_for(actor, store: Store | None) -> Store | None:
    access = access_for(actor)
    if access.all_stores:
        return store
    if access.store_id is None or (store is not None and store.pk != access.store_id):
        raise Forbidden(_("You can only send campaigns of your own store."))
    return Store.objects.get(pk=access.store_id)


# --- create ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignInput:
    name: str
    segment_id: int
    channel: str
    content: str
    scheduled_at: dt.datetime | None = None
    holdout_share: Decimal = Decimal(0)
    store: Store | None = None
    recurrence: recurrence.Rule | None = None  # a series: one run per occurrence
    attachments: list | tuple = ()  # raw, as the API and the form give them (campaigns.attachments)


def _check_schedule(scheduled_at: dt.datetime | None, now: dt.datetime) -> None:
    if scheduled_at is not None and scheduled_at < now - dt.timedelta(minutes=1):
        raise InvalidInput(details={"scheduled_at": [_("The schedule is in the past.")]})


def _segment(actor, segment_id: int, store: Store | None) -> Segment:
    segment = Segment.objects.visible_to(actor).filter(pk=segment_id).first()
    if segment is None:
        raise InvalidInput(details={"segment": [_("No such segment.")]})
    if store is not None and segment.store_id not in (None, store.pk):
        raise InvalidInput(details={"segment": [_("The segment belongs to another store.")]})
    if store is None and segment.store_id is not None:
        raise InvalidInput(details={"segment": [_("A brand-wide campaign needs a brand-wide segment.")]})
    return segment


def validate(data: CampaignInput, *, now: dt.datetime) -> None:
    errors: dict[str, list] = {}
    if data.channel not in channels.codes():
        errors["channel"] = [_("Unknown channel %(code)s; known: %(known)s.")
                             % {"code": data.channel, "known": ", ".join(channels.codes())}]
    elif (unavailable := channels.get(data.channel).unavailable()) is not None:
        errors["channel"] = [unavailable]  # a channel with settings missing: the reason names them
    if not Decimal(0) <= data.holdout_share <= Decimal("0.5"):
        errors["holdout_share"] = [_("The holdout share is between 0 and 0.5.")]
    if errors:
        raise InvalidInput(details=errors)
    content.check(data.content, max_bytes=channels.get(data.channel).max_text_bytes)
    channels.get(data.channel).check(link_text.as_sent(data.content))  # links as the tracked ones sent
    _check_schedule(data.scheduled_at, now)
    if data.recurrence is not None:
        if data.scheduled_at is not None:
            raise InvalidInput(details={"scheduled_at": [
                _("A recurring campaign is sent at its recurrence's times: leave the schedule empty.")]})
        recurrence.validate(data.recurrence, today=timezone.localtime(now, recurrence.zone()).date())


@transaction.atomic
def create_campaign(*, actor, data: CampaignInput) -> Campaign:
    """A draft; its text's personal fields and the channel's limits are checked now."""
    permissions.require_write(actor, RESOURCE)
    now = timezone.now()
    validate(data, now=now)
    store = _store_for(actor, data.store)
    segment = _segment(actor, data.segment_id, store)
    items = attachment_service.clean(actor=actor, raw=list(data.attachments), store=store,
                                     channel=channels.get(data.channel))
    return Campaign.objects.create(
        name=data.name, store=store, segment=segment, channel=data.channel, content=data.content,
        attachments=items, scheduled_at=data.scheduled_at, holdout_share=data.holdout_share,
        created_by=actor_user(actor), created_by_label=actor_label(actor),
        **(data.recurrence.fields() if data.recurrence else {}),
    )


EDITABLE = (S.DRAFT, S.APPROVED)


def check_editable(campaign: Campaign) -> None:
    """Conflict (409) naming the status unless the campaign is a draft or approved (and not a run)."""
    if campaign.status not in EDITABLE:
        raise Conflict(
            _("A %(status)s campaign cannot be edited: only a draft or an approved campaign can.")
            % {"status": campaign.get_status_display()},
            details={"status": [campaign.status]},
        )
    if campaign.parent_id is not None:
        raise Conflict(_("A run of a recurring campaign cannot be edited: edit its series."),
                       details={"parent": [campaign.parent_id]})


@transaction.atomic
def update_campaign(*, campaign: Campaign, actor, changes: dict) -> tuple[Campaign, bool]:
    """Edit a draft or an approved campaign (`changes`: CampaignInput's fields but the store; a
    `recurrence` of None makes it a one-off). The result is checked as a new campaign is; an approved
    campaign goes back to draft and must be approved again. (campaign, whether an approval was cleared)."""
    permissions.require_write(actor, RESOURCE)
    campaign = _locked(campaign, actor)
    check_editable(campaign)
    current = CampaignInput(
        name=campaign.name, segment_id=campaign.segment_id or 0, channel=campaign.channel, content=campaign.content,
        scheduled_at=campaign.scheduled_at, holdout_share=campaign.holdout_share, store=campaign.store,
        recurrence=recurrence.Rule.of(campaign) if campaign.repeat else None,
        attachments=campaign.attachments or [],
    )
    data = dataclasses.replace(current, **{k: v for k, v in changes.items() if k in EDIT_FIELDS})
    now = timezone.now()
    validate(data, now=now)
    segment = _segment(actor, data.segment_id, campaign.store)
    campaign.attachments = attachment_service.clean(actor=actor, raw=list(data.attachments), store=campaign.store,
                                                    channel=channels.get(data.channel))  # also on a new channel
    cleared = campaign.status == S.APPROVED
    campaign.name, campaign.segment, campaign.channel, campaign.content = (
        data.name, segment, data.channel, data.content)
    campaign.scheduled_at, campaign.holdout_share = data.scheduled_at, data.holdout_share
    for field, value in (data.recurrence.fields() if data.recurrence else recurrence.NO_RULE).items():
        setattr(campaign, field, value)
    campaign.status, campaign.approved_by, campaign.approved_by_label = S.DRAFT, None, ""
    campaign.last_error = ""
    campaign.save()
    return campaign, cleared


EDIT_FIELDS = ("name", "segment_id", "channel", "content", "scheduled_at", "holdout_share", "recurrence",
               "attachments")


# --- transitions -----------------------------------------------------------------------------------


def _locked(campaign: Campaign, actor) -> Campaign:
    _check_reach(campaign, actor)
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _conflict(campaign: Campaign, action: str) -> Conflict:
    return Conflict(
        _("A %(status)s campaign cannot be %(action)s.") % {"status": campaign.get_status_display(), "action": action},
        details={"status": [campaign.status]},
    )


@transaction.atomic
def approve(*, campaign: Campaign, actor) -> Campaign:
    _check_approver(actor)
    campaign = _locked(campaign, actor)
    if campaign.status != S.DRAFT:
        if campaign.status in (S.APPROVED, S.SCHEDULED, S.SENDING, S.PAUSED, S.DONE):
            return campaign  # already approved: a retry
        raise _conflict(campaign, _("approved"))
    campaign.status = S.APPROVED
    campaign.approved_by, campaign.approved_by_label = actor_user(actor), actor_label(actor)
    campaign.save(update_fields=["status", "approved_by", "approved_by_label", "updated_at"])
    return campaign


def _start(campaign: Campaign, now: dt.datetime) -> None:
    """Fan out and mark sending, in the caller's transaction. The text's links get their codes now:
    the text is final once sending starts, and a draft that is never sent leaves none behind."""
    links.ensure_links(campaign=campaign)
    if getattr(channels.get(campaign.channel), "sends_to_groups", False):
        from campaigns.services import group_messages

        group_messages.fan_out(campaign=campaign, now=now)  # one row per customer group, not per member
    else:
        fanout.fan_out(campaign=campaign, now=now)
    campaign.status, campaign.started_at, campaign.last_error = S.SENDING, now, ""
    campaign.save(update_fields=["status", "started_at", "last_error", "updated_at"])


@transaction.atomic
def send(*, campaign: Campaign, actor, scheduled_at: dt.datetime | None = None) -> Campaign:
    """Send an approved campaign now (fan-out at once: a bad segment is an error here) or at
    `scheduled_at` (or the time it was created with). Repeating it changes nothing."""
    _check_approver(actor)
    campaign = _locked(campaign, actor)
    now = timezone.now()
    if campaign.status in (S.SCHEDULED, S.SENDING, S.PAUSED, S.DONE):
        return campaign
    if campaign.status != S.APPROVED:
        raise _conflict(campaign, _("sent"))
    channels.get(campaign.channel).check(link_text.as_sent(campaign.content))
    if campaign.repeat:
        recurrence.start_series(campaign, now)  # each occurrence is a run, created by the tick
        return campaign
    attachment_service.check_for_send(campaign)
    when = scheduled_at or campaign.scheduled_at
    _check_schedule(when, now)
    if when is not None and when > now:
        campaign.status, campaign.scheduled_at = S.SCHEDULED, when
        campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
        return campaign
    campaign.scheduled_at = when or now
    _start(campaign, now)
    return campaign


def start_scheduled(*, campaign_id: int, now: dt.datetime) -> bool:
    """The tick starts a scheduled campaign that is due (claimed with SKIP LOCKED, so one worker
    does it). A segment that is empty or gone sends it back to approved with the reason."""
    with transaction.atomic():
        campaign = (Campaign.objects.select_for_update(skip_locked=True)
                    .filter(pk=campaign_id, status=S.SCHEDULED, scheduled_at__lte=now).first())
        if campaign is None:
            return False
        try:
            with transaction.atomic():
                _start(campaign, now)
            return True
        except InvalidInput as exc:
            message = "; ".join(str(m) for messages in exc.details.values() for m in messages) or exc.message
            if campaign.parent_id is not None:  # a series' run: this occurrence is not sent, the series goes on
                Campaign.objects.filter(pk=campaign.pk).update(
                    status=S.CANCELLED, finished_at=now, last_error=message[:500], updated_at=now)
                return False
            Campaign.objects.filter(pk=campaign.pk).update(status=S.APPROVED, last_error=message[:500], updated_at=now)
            return False


@transaction.atomic
def pause(*, campaign: Campaign, actor) -> Campaign:
    _check_approver(actor)
    campaign = _locked(campaign, actor)
    if campaign.status == S.PAUSED:
        return campaign
    if campaign.status not in (S.SCHEDULED, S.SENDING):
        raise _conflict(campaign, _("paused"))
    campaign.status = S.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def resume(*, campaign: Campaign, actor) -> Campaign:
    """A paused campaign goes on sending (or waits for its time when it had not started yet)."""
    _check_approver(actor)
    campaign = _locked(campaign, actor)
    if campaign.status in (S.SCHEDULED, S.SENDING, S.DONE):
        return campaign
    if campaign.status != S.PAUSED:
        raise _conflict(campaign, _("resumed"))
    if campaign.repeat:
        recurrence.resume_series(campaign, timezone.now())
        return campaign
    campaign.status = S.SENDING if campaign.send_month else S.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@dataclass(frozen=True)
class Stopped:
    """What a cancel stopped: a series' runs that were not finished, and the deliveries (member ones
    suppressed, group ones cancelled) that had not gone out yet, each with the reason cancelled."""

    runs: int = 0
    deliveries: int = 0
    group_deliveries: int = 0


OPEN_RUN = (S.DRAFT, S.APPROVED, S.SCHEDULED, S.SENDING, S.PAUSED)  # a run that is neither done nor cancelled


def cancel(*, campaign: Campaign, actor) -> Campaign:
    """Stop a campaign: its pending deliveries are suppressed as cancelled (sends in flight finish).
    A series stops its runs that are not finished too (cancel_counted)."""
    return cancel_counted(campaign=campaign, actor=actor)[0]


@transaction.atomic
def cancel_counted(*, campaign: Campaign, actor) -> tuple[Campaign, Stopped]:
    """Cancel, and say what it stopped. A series (recurring campaign) makes no run after this and
    cancels each of its runs that is not finished (scheduled, sending, paused) as a run's own cancel
    does, in this one transaction: rows not sent yet are recorded as cancelled, sent ones stay.
    The series' row lock comes first (a tick making a run holds it until the run is written, so no
    run slips past), then the runs' in id order. Repeating it stops nothing more; it also finishes
    the runs of a series cancelled before its runs were stopped with it."""
    _check_approver(actor)
    campaign = _locked(campaign, actor)
    if campaign.status == S.DONE:
        raise _conflict(campaign, _("cancelled"))
    now = timezone.now()
    deliveries = groups = 0
    if campaign.status != S.CANCELLED:
        deliveries, groups = _stop(campaign, now)
    elif not campaign.repeat:
        return campaign, Stopped()
    runs = list(Campaign.objects.select_for_update().filter(parent=campaign, status__in=OPEN_RUN).order_by("pk"))
    for run in runs:
        stopped, stopped_groups = _stop(run, now)
        deliveries, groups = deliveries + stopped, groups + stopped_groups
    return campaign, Stopped(runs=len(runs), deliveries=deliveries, group_deliveries=groups)


def _stop(campaign: Campaign, now: dt.datetime) -> tuple[int, int]:
    """Mark a locked campaign cancelled and record its rows not sent yet as cancelled, in the
    caller's transaction: (member deliveries suppressed, group deliveries cancelled)."""
    campaign.status, campaign.finished_at = S.CANCELLED, now
    campaign.next_occurrence_at = None  # a series: no run after this one
    campaign.save(update_fields=["status", "finished_at", "next_occurrence_at", "updated_at"])
    suppressed = 0
    if campaign.send_month:
        from campaigns.services import sending

        suppressed = sending.suppress_cancelled(campaign=campaign, now=now)  # each row a delivery.state_changed event
    # WeCom tasks waiting for staff are cancelled in WeCom by the results poller (the ledger is the
    # outbox of that call); due now.
    WecomMassTask.objects.filter(campaign=campaign, finished_at__isnull=True).update(next_poll_at=now)
    from campaigns.services import group_messages

    return suppressed, group_messages.cancel(campaign, now=now)  # its customer groups not handed to WeCom yet


def stop_preview(campaign: Campaign) -> Stopped:
    """What cancelling the series would stop now (its confirm screen says so): its runs not finished
    and their deliveries still pending. Nothing for a one-off campaign or a run."""
    if not campaign.repeat:
        return Stopped()
    runs = list(Campaign.objects.filter(parent=campaign, status__in=OPEN_RUN).values_list("pk", flat=True))
    if not runs:
        return Stopped()
    return Stopped(
        runs=len(runs),
        deliveries=Delivery.objects.filter(campaign_id__in=runs, state=DeliveryState.PENDING).count(),
        group_deliveries=GroupDelivery.objects.filter(campaign_id__in=runs, state=GroupDeliveryState.PENDING).count(),
    )
