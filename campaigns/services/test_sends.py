"""Test sends: a campaign's message, rendered for a sample member (or with placeholder values), sent
to staff members to look at before it goes out, through the campaign's channel: WeCom as an app
message to the staff member's WeCom userid, email to their account's address, SMS to their phone;
the outbox and webhooks only record it (a webhook's receiver would take it for a member's message).

A test send is never a delivery: no cap slot, no result. Its links are short links as a member's are
(`/l/<code>/<token>`), but test links of its own (campaigns.links StaffTestLink, a token marked as a
test's): following one redirects to the target and counts on the test send only, never as a click
of the campaign. Each test send is a row (who sent it, to whom, the text as sent, the outcome),
written with its links before the call; a campaign takes at most DAILY_LIMIT a calendar day,
counted under the campaign's row lock so racing requests cannot pass it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import channels, content
from campaigns.channels.base import Outcome, Outgoing
from campaigns.links import services as links
from campaigns.links import text as link_text
from campaigns.models import ERROR_MAX, Campaign, StaffTestOutcome, StaffTestSend
from campaigns.queries import personal_values
from members.models import Member
from scrm import permissions
from scrm.actors import actor_label, actor_user
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.models import User
from scrm.scoping import access_for
from wecom.client import errors as wecom_errors
from wecom.client import messages as wecom_messages
from wecom.models import StaffStatus, WecomStaff

RESOURCE = "campaigns"
DAILY_LIMIT = 20  # test sends per campaign per calendar day (settings.TIME_ZONE)
MAX_RECIPIENTS = 10  # staff members per request
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
Out = StaffTestOutcome


@dataclass(frozen=True)
class _TestOutgoing(Outgoing):
    """A test send as a channel adapter takes it: its own key (siyu-test-<id>), so a provider never
    takes it for the delivery of a member (siyu-<campaign>-<member>)."""

    test_key: str = ""

    @property
    def key(self) -> str:
        return self.test_key


def placeholders() -> dict:
    return {"name": _("(member's name)"), "tier": _("(tier)"), "points": _("(points)")}


def staff_in_reach(actor):
    """The staff accounts `actor` may send a test to: an operator any, a store's people their store's."""
    return User.objects.visible_to(actor).filter(is_active=True).order_by("username")


def _day_start(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def sent_today(campaign: Campaign, now: dt.datetime) -> int:
    return StaffTestSend.objects.filter(campaign=campaign, created_at__gte=_day_start(now)).count()


def values_of(sample: Member | None) -> dict:
    if sample is None:
        return placeholders()
    return personal_values([sample.pk], lambda alias: "NULL::text").get(sample.pk, {})


def render(campaign: Campaign, sample: Member | None, template: str | None = None) -> str:
    """The campaign's text (or `template`: it with test links) with the sample's personal fields."""
    return content.render(campaign.content if template is None else template, values_of(sample))


def _reserve(*, campaign: Campaign, actor, recipients: list[User], sample: Member | None,
             text: str, now: dt.datetime) -> list[StaffTestSend]:
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).first()  # serialises the day's count
        used = sent_today(campaign, now)
        if used + len(recipients) > DAILY_LIMIT:
            raise Conflict(
                _("A campaign takes at most %(limit)d test sends a day; %(left)d left today.")
                % {"limit": DAILY_LIMIT, "left": max(DAILY_LIMIT - used, 0)},
                details={"recipients": [_("%(left)d test sends left today.") % {"left": max(DAILY_LIMIT - used, 0)}]},
                code="test_send_limit",
            )
        rows = StaffTestSend.objects.bulk_create([
            StaffTestSend(campaign=campaign, recipient=user, recipient_label=str(user)[:150], sample_member=sample,
                          sent_by=actor_user(actor), sent_by_label=actor_label(actor), channel=campaign.channel,
                          text=text, outcome=Out.SENDING, created_at=now)
            for user in recipients
        ])
        urls = link_text.urls(campaign.content)
        if urls:  # each test send its own test links, so an opening is known to be that test's
            codes = links.test_links(test_send_ids=[r.pk for r in rows], urls=urls)
            for row in rows:
                row.text = render(campaign, sample, links.test_text(campaign.content, test_send_id=row.pk,
                                                                    codes=codes.get(row.pk, {})))
            StaffTestSend.objects.bulk_update(rows, ["text"])
        return rows


def send_test(*, campaign: Campaign, actor, recipient_ids: list[int], sample_member_id: int | None = None
              ) -> list[StaffTestSend]:
    """Send the campaign's message to each staff member of `recipient_ids`; the recorded test sends
    (each with its outcome: sent, recorded, failed, or refused with what is missing)."""
    permissions.require_write(actor, RESOURCE)
    if not access_for(actor).allows_store(campaign.store_id):
        raise NotInScope()
    ids = list(dict.fromkeys(recipient_ids))
    if not 1 <= len(ids) <= MAX_RECIPIENTS:
        raise InvalidInput(details={"recipients": [
            _("Choose 1 to %(max)d staff members.") % {"max": MAX_RECIPIENTS}]})
    found = {u.pk: u for u in staff_in_reach(actor).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise InvalidInput(details={"recipients": [
            _("No staff member %(ids)s among the staff you can reach.") % {"ids": ", ".join(missing)}]})
    sample = None
    if sample_member_id is not None:
        sample = Member.objects.visible_to(actor).filter(pk=sample_member_id, erased_at__isnull=True).first()
        if sample is None:
            raise InvalidInput(details={"sample_member": [
                _("No member %(id)s among the members you can reach.") % {"id": sample_member_id}]})
    now = timezone.now()
    text = render(campaign, sample)
    rows = _reserve(campaign=campaign, actor=actor, recipients=[found[i] for i in ids], sample=sample, text=text,
                    now=now)
    for row in rows:  # outside the reservation's transaction: a provider's call holds no lock
        outcome, address, error, provider_id = _deliver(campaign, row, sample)
        row.outcome, row.address, row.error, row.provider_message_id = outcome, address[:254], error[:ERROR_MAX], \
            provider_id[:128]
        row.save(update_fields=["outcome", "address", "error", "provider_message_id"])
    return rows


def _deliver(campaign: Campaign, row: StaffTestSend, sample: Member | None) -> tuple[str, str, str, str]:
    """(outcome, address, error, provider id) of one test send."""
    user = row.recipient
    if campaign.channel == "wecom":
        return _wecom(user, row.text)
    if campaign.channel == "email":
        address = (user.email or "").strip().lower()
        if "@" not in address:
            return Out.REFUSED, "", _("%(name)s has no email address on their account.") % {"name": user}, ""
    elif campaign.channel == "sms":
        address = (user.phone or "").strip()
        if not E164.match(address):
            return Out.REFUSED, "", _("%(name)s has no phone number in international form (such as +8613800138000) "
                                    "on their account.") % {"name": user}, ""
    else:  # the outbox, webhooks: recorded, sent to no one
        return Out.RECORDED, f"staff:{user.username}", "", ""
    channel = channels.get(campaign.channel)
    if (unavailable := channel.unavailable()) is not None:
        return Out.REFUSED, address, unavailable, ""
    outgoing = _TestOutgoing(send_month=None, delivery_id=row.pk, campaign_id=campaign.pk,
                             member_id=sample.pk if sample else 0, address=address, text=row.text,
                             test_key=f"siyu-test-{row.pk}")
    try:
        result = channel.send([outgoing])[0]
    except Exception as exc:  # noqa: BLE001 - recorded as the test's outcome, never a crash of the request
        return Out.FAILED, address, f"{type(exc).__name__}: {exc}", ""
    if result.outcome is Outcome.SENT:
        return Out.SENT, address, "", result.provider_message_id
    return Out.FAILED, address, result.error or result.reason or _("The channel did not take it."), ""


def _wecom(user: User, text: str) -> tuple[str, str, str, str]:
    staff = WecomStaff.objects.filter(user=user, status=StaffStatus.ACTIVE).first()
    if staff is None:
        return Out.REFUSED, "", _("%(name)s has no WeCom account linked (WeCom → Staff).") % {"name": user}, ""
    if wecom_messages.agent_id() is None:
        return Out.REFUSED, staff.userid, _("WeCom app messages need the app's id: set %(setting)s.") % {
            "setting": "WECOM_AGENT_ID"}, ""
    if len(text.encode()) > wecom_messages.MAX_TEXT_BYTES:
        return Out.REFUSED, staff.userid, _("A WeCom app message is at most %(max)d bytes; this one is %(size)d.") % {
            "max": wecom_messages.MAX_TEXT_BYTES, "size": len(text.encode())}, ""
    try:
        sent = wecom_messages.send_text([staff.userid], text)
    except wecom_errors.WecomError as exc:
        return Out.FAILED, staff.userid, str(exc), ""
    if staff.userid.lower() in sent.invalid:
        return Out.FAILED, staff.userid, _("WeCom did not send it: %(userid)s is not in the app's visible range.") % {
            "userid": staff.userid}, ""
    return Out.SENT, staff.userid, "", sent.msgid


def with_openings(queryset):
    """Test sends with `links_opened`: how often their test links were followed (never a click of
    the campaign)."""
    return queryset.annotate(links_opened=Coalesce(Sum("links__opened"), 0))


def list_for(campaign: Campaign, actor):
    return with_openings(StaffTestSend.objects.visible_to(actor).filter(campaign=campaign)
                         .select_related("recipient", "sent_by"))
