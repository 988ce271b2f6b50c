"""The email channel against a local SMTP server (aiosmtpd, campaigns.fake.smtp), through the
sending engine: one mail per member with a Message-ID made of the delivery's key; 4xx replies retried,
5xx failed with the reply; a timeout before the server took a message sent again once, one after it
took it sent again with the same Message-ID; a worker that died settled from the receipts; a
channel with its settings missing refuses campaigns."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from campaigns.channels import mail
from campaigns.channels.mail import MailChannel, subject_and_body
from campaigns.fake import smtp as fake_smtp
from campaigns.models import Delivery
from campaigns.queries import counts_by_state
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending
from members.models import Identity, Member
from scrm.errors import InvalidInput
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db

FROM = "思语巧克力 <news@brand.example>"


def _configure(settings, running):
    settings.SIYU_SMTP_HOST, settings.SIYU_SMTP_PORT = running.host, running.port
    settings.SIYU_SMTP_SECURITY, settings.SIYU_SMTP_FROM = "none", FROM
    settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD = "", ""
    settings.SIYU_SMTP_TIMEOUT, settings.SIYU_SMTP_RATE = 0.5, 200


@pytest.fixture
def mailbox(settings):
    running = fake_smtp.start(fake_smtp.Mailbox())
    _configure(settings, running)
    try:
        yield running.mailbox
    finally:
        running.stop()


@pytest.fixture
def addressed(audience):
    """The audience, each with an email identity (m<id>@example.com)."""
    a, b = audience
    for member in (*a, *b):
        Identity.objects.create(member=member, channel="email", external_id=f"m{member.pk}@example.com")
    return a, b


def _address(member):
    return f"m{member.pk}@example.com"


def _states(campaign):
    return {k: v for k, v in counts_by_state([campaign.pk])[campaign.pk].items() if v and k != "total"}


def _later(hours=2):
    return lambda: timezone.now() + dt.timedelta(hours=hours)


def _one_each(mailbox, campaign, members):
    assert sorted(r for m in mailbox.mails for r in m.rcpt_tos) == sorted(_address(m) for m in members)
    for member in members:
        (mail,) = mailbox.to(_address(member))
        assert mail.message_id == f"<siyu-{campaign.pk}-{member.pk}@brand.example>"
        delivery = Delivery.objects.get(campaign=campaign, member=member)
        assert delivery.state == "sent" and delivery.provider_message_id == mail.message_id


def test_every_member_gets_one_mail_through_the_engine(addressed, make_campaign, mailbox):
    a, b = addressed
    campaign = make_campaign(channel="email", content="春季新品到店\n{name}，你好！\n\n思语巧克力")
    assert sending.tick().sent == 5
    _one_each(mailbox, campaign, [*a, *b])
    mail = mailbox.to(_address(a[0]))[0]
    message = mail.message
    assert mail.mail_from == "news@brand.example"
    assert str(message["From"]) == FROM and str(message["To"]) == _address(a[0])
    assert str(message["Subject"]) == "春季新品到店"
    assert message.get_content().replace("\r\n", "\n") == f"{a[0].name}，你好！\n\n思语巧克力\n"
    assert sending.tick(now_fn=_later()).sent == 0 and len(mailbox.mails) == 5


def test_a_one_line_text_takes_the_campaigns_name_as_subject():
    assert subject_and_body("Hi there", "Spring") == ("Spring", "Hi there")
    assert subject_and_body("New in store\nCome and see", "Spring") == ("New in store", "Come and see")
    assert subject_and_body("x" * 101 + "\nmore", "Spring") == ("Spring", "x" * 101 + "\nmore")


def test_4xx_replies_retry_and_5xx_fail_with_the_reply(addressed, make_campaign, mailbox):
    a, b = addressed
    mailbox.rcpt_replies = {_address(a[0]): "450 4.2.1 Mailbox busy, try later",
                            _address(a[1]): "550 5.1.1 No such user here"}
    mailbox.reply_to_data("554 5.7.1 Message refused as spam")  # the first message sent (a[2]'s)
    mailbox.reply_to_data("451 4.3.0 Queue full")  # the next (b[0]'s)
    campaign = make_campaign(channel="email")
    report = sending.tick()
    assert (report.sent, report.retried, report.failed) == (1, 2, 2)
    deliveries = {d.member_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert (deliveries[a[0].pk].state, deliveries[a[0].pk].error) == ("pending", "450 4.2.1 Mailbox busy, try later")
    assert (deliveries[a[1].pk].state, deliveries[a[1].pk].reason, deliveries[a[1].pk].error) == (
        "failed", "provider_error", "550 5.1.1 No such user here")
    assert (deliveries[a[2].pk].state, deliveries[a[2].pk].error) == ("failed", "554 5.7.1 Message refused as spam")
    assert (deliveries[b[0].pk].state, deliveries[b[0].pk].error) == ("pending", "451 4.3.0 Queue full")

    mailbox.rcpt_replies = {}
    assert sending.tick(now_fn=_later()).sent == 2
    assert _states(campaign) == {"sent": 3, "failed": 2}
    _one_each(mailbox, campaign, [a[0], b[0], b[1]])


def test_a_long_reply_is_kept_truncated(addressed, make_campaign, mailbox):
    a, _b = addressed
    mailbox.rcpt_replies = {_address(a[0]): "550 5.7.1 " + "blocked " * 60}
    campaign = make_campaign(channel="email")
    sending.tick()
    error = Delivery.objects.get(campaign=campaign, member=a[0]).error
    assert error.startswith("550 5.7.1 blocked blocked") and len(error) == 200


def test_a_timeout_before_the_server_took_it_is_sent_again_once(addressed, make_campaign, mailbox):
    a, b = addressed
    mailbox.slow_rcpt, mailbox.slow_rcpt_times = 1.5, 1  # the client gives up at 0.5 s: nothing taken
    campaign = make_campaign(channel="email")
    report = sending.tick()
    assert report.sent == 4 and report.retried == 1
    assert Delivery.objects.get(campaign=campaign, member=a[0]).error.startswith(("TimeoutError", "SMTPServer"))
    assert sending.tick(now_fn=_later()).sent == 1
    _one_each(mailbox, campaign, [*a, *b])


def test_a_timeout_after_the_server_took_it_sends_it_again_with_the_same_message_id(addressed, make_campaign,
                                                                                     mailbox):
    """SMTP has no look-up: the one case that is sent twice. The mailbox sees one Message-ID."""
    a, b = addressed
    mailbox.slow_data, mailbox.slow_data_times = 1.5, 1
    campaign = make_campaign(channel="email")
    assert sending.tick().retried == 1
    assert sending.tick(now_fn=_later()).sent == 1
    first, again = mailbox.to(_address(a[0]))
    assert first.message_id == again.message_id == f"<siyu-{campaign.pk}-{a[0].pk}@brand.example>"
    assert all(len(mailbox.to(_address(m))) == 1 for m in (a[1], a[2], *b))
    assert _states(campaign) == {"sent": 5}


def test_a_worker_dying_after_the_server_took_them_is_settled_from_the_receipts(addressed, make_campaign, mailbox,
                                                                               policy):
    a, b = addressed
    campaign = make_campaign(channel="email")
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    ready, _missing = sending._outgoing(campaign, claimed, MailChannel())
    MailChannel().send(ready)  # ... and the worker dies before writing the answers
    report = sending.tick(lease=dt.timedelta(0))
    assert report.settled == 5 and report.sent == 5 and report.claimed == 0
    _one_each(mailbox, campaign, [*a, *b])


def test_a_server_that_is_down_is_retried(addressed, make_campaign, mailbox, settings):
    campaign = make_campaign(channel="email")
    settings.SIYU_SMTP_PORT = 1  # nothing listens
    report = sending.tick()
    assert report.retried == 5 and mailbox.mails == []
    errors = list(Delivery.objects.filter(campaign=campaign).order_by("id").values_list("error", flat=True))
    assert all(e.startswith("ConnectionRefusedError") for e in errors[:3])
    assert errors[3:] == ["not attempted: the SMTP server failed the messages before"] * 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the local server, on purpose
def test_it_logs_in_and_a_refused_login_retries_without_trying_the_rest(addressed, make_campaign, settings,
                                                                          monkeypatch):
    a, b = addressed
    monkeypatch.setattr(mail, "OUTAGE_PAUSE", 1.0)
    running = fake_smtp.start(fake_smtp.Mailbox(login=("siyu", "s3cret-pass")))
    try:
        _configure(settings, running)
        settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD = "siyu", "wrong"
        campaign = make_campaign(channel="email")
        report = sending.tick()
        assert report.retried == 5 and running.mailbox.mails == []
        errors = sorted(Delivery.objects.filter(campaign=campaign).values_list("error", flat=True))
        assert errors[0].startswith("535") and all(e.startswith("not attempted: 535") for e in errors[1:])
        settings.SIYU_SMTP_PASSWORD = "s3cret-pass"
        assert sending.tick(now_fn=_later()).claimed == 0  # every sender holds off a while
        time.sleep(1.1)
        assert sending.tick(now_fn=_later()).sent == 5
        assert running.mailbox.logins == ["siyu"]  # one session for the batch
        _one_each(running.mailbox, campaign, [*a, *b])
    finally:
        running.stop()


def test_the_address_is_an_email_identity(store_a, make_campaign, mailbox):
    upper = Member.objects.create(name="u", home_store=store_a)
    Identity.objects.create(member=upper, channel="email", external_id="Upper.Case@Example.com")
    malformed = Member.objects.create(name="m", home_store=store_a)
    Identity.objects.create(member=malformed, channel="email", external_id="not an address")
    phone_only = Member.objects.create(name="p", phone="+8613812340009", home_store=store_a)
    for member in (upper, malformed, phone_only):
        consent(member, channel="email")
    campaign = make_campaign(channel="email")
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("member_id", "reason")) == {
        upper.pk: "", malformed.pk: "no_identity", phone_only.pk: "no_identity"}
    sending.tick()
    assert [m.rcpt_tos for m in mailbox.mails] == [["upper.case@example.com"]]


def test_email_consent_is_for_email(store_a, make_campaign, mailbox):
    sms_only = Member.objects.create(name="s", home_store=store_a)
    Identity.objects.create(member=sms_only, channel="email", external_id="s@example.com")
    consent(sms_only, channel="sms")
    campaign = make_campaign(channel="email")
    assert Delivery.objects.get(campaign=campaign).reason == "no_consent"


@pytest.mark.parametrize(("changes", "message"), [
    ({"SIYU_SMTP_HOST": ""}, "Email is not configured: set SIYU_SMTP_HOST."),
    ({"SIYU_SMTP_FROM": ""}, "Email is not configured: set SIYU_SMTP_FROM."),
    ({"SIYU_SMTP_FROM": "Brand"},
     "Email is not configured: SIYU_SMTP_FROM must hold an address, such as Brand <news@brand.example>."),
    ({"SIYU_SMTP_USER": "siyu", "SIYU_SMTP_PASSWORD": ""}, "Email is not configured: set SIYU_SMTP_PASSWORD."),
])
def test_a_campaign_on_email_without_its_settings_is_refused(alice, everyone, settings, changes, message):
    settings.SIYU_SMTP_HOST, settings.SIYU_SMTP_FROM = "smtp.example.com", FROM
    settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD = "", ""
    for name, value in changes.items():
        setattr(settings, name, value)
    data = lifecycle.CampaignInput(name="x", segment_id=everyone.pk, channel="email", content="hi")
    with pytest.raises(InvalidInput) as refused:
        lifecycle.create_campaign(actor=alice, data=data)
    assert refused.value.details["channel"] == [message]
