"""The email channel: plain-text mail (with an HTML part when the campaign has attachments: its
images inline, its links as cards) over SMTP to a member's email identity (an identity with
channel "email"), for members with marketing consent for email.

Configured with SIYU_SMTP_* from the environment (not Django's EMAIL_*, which default to
localhost:25 and so would never say that nothing is configured): SIYU_SMTP_HOST and SIYU_SMTP_FROM
(e.g. `Siyu Chocolate <news@brand.example>`) are required; SIYU_SMTP_SECURITY is starttls (port
587, the default), tls (465) or none; SIYU_SMTP_USER and SIYU_SMTP_PASSWORD log in when set.

Each message's Message-ID is made of the delivery's key and the sender's domain
(`<siyu-12-345@brand.example>`), so a message sent twice is the same message to the mailbox, and it
is the delivery's provider id. The subject is the text's first line when the text has more lines
and that line is short; otherwise the campaign's name, and the whole text is the body.

Replies: 4xx (to the sender, the recipient or the data) retry later; 5xx fail with the reply's code
and text; a connection, login or TLS problem or a timeout retries. SMTP cannot be asked later
whether it took a message, so each accepted one is kept as a receipt in Redis (six hours) for
`settle`; a message whose answer never came (the server took it, then the connection timed out) is
sent again with the same Message-ID.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import logging
import smtplib
import ssl
import time
from email.headerregistry import Address
from email.message import EmailMessage

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.channels import limits
from campaigns.channels.base import Channel, Outcome, Outgoing, Result
from campaigns.models import Campaign, CampaignImage
from campaigns.services.attachments import read_image
from members import sql as members_sql

logger = logging.getLogger(__name__)

IDENTITY_CHANNEL = "email"
SUBJECT_MAX = 100  # characters: a longer first line is body, not subject
BATCH_SECONDS = 60.0  # no new message starts in a batch after this long (well inside the engine's lease)
MAX_TRANSPORT_ERRORS = 3  # in a row: the server is down, the rest of the batch waits
OUTAGE_PAUSE = 30.0  # seconds every sender waits after that (or a refused session) before trying again
ERROR_CHARS = 200


def _sender() -> tuple[str, str]:
    """(display name, address) of SIYU_SMTP_FROM; address '' when it holds none."""
    name, address = email.utils.parseaddr(settings.SIYU_SMTP_FROM)
    return name, address if "@" in address else ""


def message_id(key: str, domain: str) -> str:
    return f"<{key}@{domain}>"


def subject_and_body(text: str, campaign_name: str) -> tuple[str, str]:
    first, _, rest = text.strip().partition("\n")
    first = first.strip()
    if rest.strip() and first and len(first) <= SUBJECT_MAX:
        return first, rest.strip("\n")
    return campaign_name, text


def _reply(code: int, text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"[:ERROR_CHARS]


def _image_bytes(image: dict, images: dict) -> bytes | None:
    """An attachment's image file, read once per batch (`images` by id); None when it is gone."""
    if image["id"] not in images:
        found = CampaignImage.objects.filter(pk=image["id"]).first()
        try:
            images[image["id"]] = read_image(found) if found else None
        except OSError:
            images[image["id"]] = None
    return images[image["id"]]


def add_html(message: EmailMessage, body: str, o: Outgoing, images: dict) -> None:
    """The HTML alternative of a message with attachments: the text, then each attachment in order,
    an image inline (a related part named by Content-ID) and a link as a card (its picture, title,
    description, the member's tracked link). The plain text part stays first, with each link's
    title and tracked url after the text, for mail readers without HTML."""
    inline: list[tuple[str, dict, bytes]] = []
    blocks, plain = [], []
    for position, item in enumerate(o.attachments):
        if item["type"] == "image":
            data = _image_bytes(item["image"], images)
            if data is None:
                continue
            cid = email.utils.make_msgid(f"siyu-{o.campaign_id}-{position}")
            inline.append((cid, item["image"], data))
            blocks.append(f'<p><img src="cid:{cid[1:-1]}" alt="{html.escape(item["image"].get("name", ""))}" '
                          'style="max-width:100%;height:auto"></p>')
        elif item["type"] == "link":
            picture = (f'<img src="{html.escape(item["picture_url"])}" alt="" width="80" '
                       'style="float:left;margin-right:12px">' if item.get("picture_url") else "")
            description = f'<br><span>{html.escape(item["description"])}</span>' if item.get("description") else ""
            blocks.append(
                f'<table role="presentation" style="border:1px solid #ddd;border-radius:6px;margin:12px 0;'
                f'width:100%"><tr><td style="padding:12px">{picture}<a href="{html.escape(item["url"])}">'
                f'<strong>{html.escape(item["title"])}</strong></a>{description}</td></tr></table>'
            )
            plain.append(f"{item['title']}: {item['url']}")
    if plain:
        message.set_content(body + "\n\n" + "\n".join(plain))
    text = html.escape(body).replace("\n", "<br>\n")
    message.add_alternative(f"<!DOCTYPE html><html><body><p>{text}</p>{''.join(blocks)}</body></html>",
                            subtype="html")
    part = message.get_payload()[1]
    for cid, image, data in inline:
        maintype, _, subtype = image.get("content_type", "image/png").partition("/")
        part.add_related(data, maintype=maintype, subtype=subtype, cid=cid, filename=image.get("name") or None)


class _Refused(Exception):
    def __init__(self, code: int, text):
        super().__init__(_reply(code, text))
        self.code = code


class MailChannel(Channel):
    code = "email"
    label = _("Email")
    consent_channel = "email"
    max_text_bytes = 100_000
    # Rendered into the message's HTML part (images inline, links as cards); a mini-program card
    # cannot be opened from a mailbox.
    attachment_kinds = frozenset({"image", "link"})
    max_attachments = 9

    @property
    def batch_size(self) -> int:  # a second's worth; none while paused (limits.batch_size)
        return limits.batch_size(self.code, settings.SIYU_SMTP_RATE)

    def unavailable(self) -> str | None:
        for name in ("SIYU_SMTP_HOST", "SIYU_SMTP_FROM"):
            if not getattr(settings, name):
                return gettext("Email is not configured: set %(setting)s.") % {"setting": name}
        if not _sender()[1]:
            return gettext("Email is not configured: %(setting)s must hold an address, such as "
                           "Brand <news@brand.example>.") % {"setting": "SIYU_SMTP_FROM"}
        if settings.SIYU_SMTP_USER and not settings.SIYU_SMTP_PASSWORD:
            return gettext("Email is not configured: set %(setting)s.") % {"setting": "SIYU_SMTP_PASSWORD"}
        return None

    def address_sql(self, member: str) -> str:
        # The member's first email identity that looks like an address.
        return (
            f"(SELECT lower(i.external_id) FROM {members_sql.IDENTITY} i WHERE i.member_id = {member}.id "
            f"AND i.channel = '{IDENTITY_CHANNEL}' AND i.external_id ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$' "
            "ORDER BY i.id LIMIT 1)"
        )

    # --- sending -----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = settings.SIYU_SMTP_HOST, int(settings.SIYU_SMTP_PORT), float(settings.SIYU_SMTP_TIMEOUT)
        context = ssl.create_default_context()
        if settings.SIYU_SMTP_SECURITY == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
            if settings.SIYU_SMTP_SECURITY == "starttls":
                smtp.starttls(context=context)
        try:
            if settings.SIYU_SMTP_USER:
                smtp.login(settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD)
        except Exception:
            smtp.close()
            raise
        return smtp

    def _message(self, o: Outgoing, campaign_name: str, sender_name: str, sender: str,
                 images: dict | None = None) -> EmailMessage:
        subject, body = subject_and_body(o.text, campaign_name)
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = Address(sender_name, addr_spec=sender)
        message["To"] = o.address
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=True)
        message["Message-ID"] = message_id(o.key, sender.rpartition("@")[2])
        message.set_content(body)
        if o.attachments:
            add_html(message, body, o, images if images is not None else {})
        return message

    def _send_one(self, smtp: smtplib.SMTP, message: EmailMessage, sender: str, to: str) -> None:
        """Send, or raise _Refused with the server's reply to the sender, the recipient or the data."""
        try:
            smtp.send_message(message, from_addr=sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _Refused(code, text) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _Refused(exc.smtp_code, exc.smtp_error) from None

    def send(self, batch: list[Outgoing]) -> list[Result]:
        if not batch:
            return []
        reason = self.unavailable()
        if reason:
            return [Result(o.delivery_id, Outcome.RETRY, error=reason) for o in batch]
        names = dict(Campaign.objects.filter(pk__in={o.campaign_id for o in batch}).values_list("pk", "name"))
        sender_name, sender = _sender()
        bucket, receipts = limits.Bucket(self.code, rate=settings.SIYU_SMTP_RATE), limits.Receipts(self.code)
        results: list[Result] = []
        images: dict = {}  # attachment images read once per batch
        smtp: smtplib.SMTP | None = None
        stop, errors_in_row, started = "", 0, time.monotonic()
        try:
            for o in batch:
                if not stop and time.monotonic() - started > BATCH_SECONDS:
                    stop = "not attempted: the batch ran out of time"
                if not stop:
                    try:
                        bucket.take()
                    except limits.RateLimited as exc:
                        stop = str(exc)
                if stop:
                    results.append(Result(o.delivery_id, Outcome.RETRY, error=stop))
                    continue
                message = self._message(o, names.get(o.campaign_id, ""), sender_name, sender, images)
                try:
                    if smtp is None:
                        smtp = self._connect()
                    self._send_one(smtp, message, sender, o.address)
                except _Refused as exc:
                    outcome = Outcome.RETRY if 400 <= exc.code < 500 else Outcome.FAILED
                    results.append(Result(o.delivery_id, outcome, error=str(exc)))
                    errors_in_row = 0
                    continue
                except smtplib.SMTPResponseException as exc:  # a greeting, HELO or login refused
                    refused = _reply(exc.smtp_code, exc.smtp_error)
                    logger.error("email: the SMTP server refused the session: %s", refused)
                    results.append(Result(o.delivery_id, Outcome.RETRY, error=refused))
                    stop = f"not attempted: {refused}"[:ERROR_CHARS]
                    bucket.pause(OUTAGE_PAUSE)
                    continue
                except (smtplib.SMTPException, OSError) as exc:  # disconnected, timed out, TLS
                    results.append(Result(o.delivery_id, Outcome.RETRY,
                                          error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]))
                    if smtp is not None:
                        smtp.close()  # its state is unknown: the next message gets a new session
                        smtp = None
                    errors_in_row += 1
                    if errors_in_row >= MAX_TRANSPORT_ERRORS:
                        stop = "not attempted: the SMTP server failed the messages before"
                        bucket.pause(OUTAGE_PAUSE)
                    continue
                errors_in_row = 0
                receipts.record(o.key, str(message["Message-ID"]))
                results.append(Result(o.delivery_id, Outcome.SENT, provider_message_id=str(message["Message-ID"])))
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
        return results

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        """SMTP cannot be asked: the receipts written as the server accepted each message say which
        it took. Others are sent again, with the same Message-ID."""
        by_key = {o.key: o for o in batch}
        return {
            by_key[key].delivery_id: Result(by_key[key].delivery_id, Outcome.SENT, provider_message_id=found)
            for key, found in limits.Receipts(self.code).find(list(by_key)).items()
        }
