"""The channel adapter interface: what the sending engine asks of every channel.

The engine claims due deliveries, marks them sending and hands each campaign's batch to its channel's
`send`; whatever `send` answers per delivery is written back (sent, retry later, failed). A crash
between the claim and the answer leaves rows "sending"; once their lease runs out the engine asks
`settle` whether the provider got them before anything is sent again, so a channel that can look its
sends up (the outbox by delivery key; WeCom by reading back its mass-message tasks) is exactly-once.

A channel that confirms later (WeCom customer mass messages: one task per staff member, sent when
that staff member confirms it) answers ACCEPTED with the task id as `provider_message_id`, groups its
batch by `Outgoing.staff_id` itself, records its intent before the create call, and settles unknown
outcomes by reading the provider's tasks back. Who reaches a member (`relation_id`, `staff_id`) is
chosen by the channel's `recipient_sql` at fan-out time."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.translation import gettext

from scrm.errors import InvalidInput


class Outcome(enum.Enum):
    SENT = "sent"  # the provider has it; final
    ACCEPTED = "accepted"  # taken, confirmed later (WeCom mass messages): waits as "accepted" until then
    RETRY = "retry"  # worth another attempt after a backoff (timeouts, rate limits, 5xx)
    FAILED = "failed"  # refused for good (bad address, not a friend)


@dataclass(frozen=True)
class Outgoing:
    """One message to send: the delivery's key, where it goes and its rendered text."""

    send_month: object  # datetime.date, the delivery's partition key
    delivery_id: int
    campaign_id: int
    member_id: int
    address: str
    text: str
    relation_id: int | None = None
    staff_id: int | None = None
    # The campaign's attachments as this recipient gets them (campaigns.attachments; a link's url is
    # the recipient's tracked link, an image carries its file's name and type): empty for text only.
    attachments: tuple = ()
    # Which claim of the delivery this is (1: the first; None: not known). A delivery claimed for the
    # first time cannot have reached a provider yet; one claimed again may have (its worker died
    # after the call), so a channel that looks its sends up need only look for those.
    attempt: int | None = None

    @property
    def key(self) -> str:
        """The delivery's key as a provider's idempotency key (an SMS client_ref, an email's
        Message-ID, a webhook's Idempotency-Key): one per (campaign, member), as the deliveries are."""
        return f"siyu-{self.campaign_id}-{self.member_id}"


@dataclass(frozen=True)
class Result:
    delivery_id: int
    outcome: Outcome
    provider_message_id: str = ""
    error: str = ""
    reason: str = ""  # a DeliveryReason for a failure Siyu decided (no_identity), else the provider's


class Channel:
    """Subclass and register (campaigns.channels.register) one instance per channel code."""

    code: str = ""
    label = ""  # a lazy translation
    consent_channel: str = "all"  # members.models.ConsentChannel this channel's marketing consent is for
    max_text_bytes: int | None = None  # UTF-8 bytes of rendered text, None for no limit
    batch_size: int = 500  # deliveries per send call
    # Rows of one claim tie-broken by this (columns of the delivery `d`), for a channel whose batches
    # should hold whole groups: WeCom's "d.staff_id", so a staff member's customers share one task.
    # It sorts a campaign's due rows on every claim (115 ms at 84k due); None keeps the index order.
    claim_order: str | None = None
    # The attachment types (campaigns.attachments.KINDS) this channel carries after the text, and how
    # many at most; the default carries none, so a channel takes attachments only once it says so.
    attachment_kinds: frozenset[str] = frozenset()
    max_attachments: int = 0

    def unavailable(self) -> str | None:
        """Why this channel cannot send (a translated sentence naming the missing setting), or None
        when it can: campaigns.services.campaigns.validate refuses a channel that answers a reason."""
        return None

    def address_sql(self, member: str) -> str:
        """An SQL text expression of the address of the member aliased `member` on this channel, NULL
        when it has none (such members are suppressed at fan-out with no_identity)."""
        raise NotImplementedError

    def recipient_sql(self, member: str) -> str | None:
        """For a channel that reaches a member through a staff member (WeCom): a SELECT of at most one
        row (relation_id, staff_id, address) for the member aliased `member`, the one relation the
        fan-out writes on the delivery (no row: no address, suppressed with no_identity); None (the
        default) leaves both empty and takes the address from `address_sql`."""
        return None

    def recipients_sql(self) -> str | None:
        """The same choice as `recipient_sql` for every member at once: a SELECT of (member_id,
        relation_id, staff_id, address), at most one row per member, which a fan-out reading most of
        the members joins whole (a look-up per member inside a plan of hash joins is a pass over the
        relations per member). Required with `recipient_sql`."""
        return None

    def check(self, text: str) -> None:
        """Refuse (scrm.errors.InvalidInput, naming the field) a campaign text this channel cannot
        send now: called when a campaign is created and when it is sent. Nothing by default."""

    def check_attachments(self, attachments: list[dict]) -> None:
        """Refuse (InvalidInput under "attachments", each message naming the attachment) attachments
        this channel cannot carry: a type it does not take, or more than `max_attachments`. Called
        with the normalised list (campaigns.attachments.parse) when a campaign is created and sent;
        a channel with rules of its own extends it (`refusal` words one refused attachment)."""
        problems = []
        if len(attachments) > self.max_attachments:
            problems.append(gettext("%(channel)s carries at most %(max)d attachments; this campaign has %(count)d.")
                            % {"channel": self.label, "max": self.max_attachments, "count": len(attachments)})
        for position, attachment in enumerate(attachments):
            if attachment["type"] not in self.attachment_kinds:
                problems.append(self.refusal(position, attachment))
        if problems:
            raise InvalidInput(details={"attachments": problems})

    def refusal(self, position: int, attachment: dict) -> str:
        """Why this channel refuses the attachment at `position` (a translated sentence naming it)."""
        from campaigns import attachments as kinds

        carried = ", ".join(str(kinds.KIND_LABELS[k]) for k in kinds.KINDS if k in self.attachment_kinds)
        return gettext("%(which)s: %(channel)s does not carry it (it takes %(carried)s).") % {
            "which": kinds.label(position, attachment["type"]), "channel": self.label,
            "carried": carried or gettext("text only")}

    def send(self, batch: list[Outgoing]) -> list[Result]:
        """Send a batch (of one campaign); answer one Result per delivery. Must be safe to call again
        with a delivery it has already sent (use the delivery key where the provider takes one)."""
        raise NotImplementedError

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        """For deliveries whose outcome is unknown (a lease ran out): the results the provider knows,
        by delivery id. A delivery left out was not sent and may be sent again."""
        return {}
