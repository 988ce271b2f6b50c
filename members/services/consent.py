"""Consent per purpose and channel, and the query every send uses.

Rules (the stricter reading wherever two could apply):
- Marketing consent is per channel or for 'all' channels; other purposes (sensitive data, guardian,
  profiling) are brand-wide and recorded on 'all' only.
- Withdrawing is one call, like granting. Withdrawing on 'all' also withdraws every channel-specific
  grant of that purpose, so "stop everything" means everything; a later grant on one channel
  re-opens that channel only.
- `can_message` lets a marketing message through when consent is granted on that channel or on
  'all', and not withdrawn on that channel.
- Withdrawing sensitive-data or guardian consent removes the attribute values that needed it.
Every answer appends a ConsentRecord (the evidence) and a MemberEvent. The file import
(members.io.bulk) applies the same rules to its consent columns, set-based."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members import sql as members_sql
from members.models import Consent, ConsentChannel, ConsentPurpose, ConsentRecord, Member, MemberEvent
from members.services import attributes, events
from scrm import actors
from scrm import events as scrm_events
from scrm.errors import InvalidInput

SOURCE_MAX = ConsentRecord._meta.get_field("source").max_length
EVIDENCE_MAX = ConsentRecord._meta.get_field("evidence").max_length
CONSENT_CHANGED = "member.consent_changed"
BRAND_WIDE_PURPOSES = frozenset({ConsentPurpose.SENSITIVE_DATA, ConsentPurpose.GUARDIAN, ConsentPurpose.PROFILING})


def answer_errors(*, purpose, channel, granted, source="", evidence="") -> dict:
    """Errors by field for one consent answer ({} when it can be recorded): the rules set_consent
    applies, and the file import applies to its consent columns."""
    errors = {}
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = [_("%(value)s is not one of: %(choices)s.")
                             % {"value": purpose, "choices": ", ".join(ConsentPurpose.values)}]
    if channel not in ConsentChannel.values:
        errors["channel"] = [_("%(value)s is not one of: %(choices)s.")
                             % {"value": channel, "choices": ", ".join(ConsentChannel.values)}]
    elif purpose in BRAND_WIDE_PURPOSES and channel != ConsentChannel.ALL:
        errors["channel"] = [_("Consent to %(purpose)s is given for all channels at once.") % {"purpose": purpose}]
    if not isinstance(granted, bool):
        errors["granted"] = [_("Expected true or false.")]
    if not isinstance(source, str) or len(source) > SOURCE_MAX:
        errors["source"] = [_("At most %(max)d characters of text.") % {"max": SOURCE_MAX}]
    if not isinstance(evidence, str) or len(evidence) > EVIDENCE_MAX:
        errors["evidence"] = [_("At most %(max)d characters of text.") % {"max": EVIDENCE_MAX}]
    return errors


def withdraws_channel_grants(channel: str, granted: bool) -> bool:
    """Withdrawing on every channel also withdraws that purpose's channel grants."""
    return not granted and channel == ConsentChannel.ALL


def _store(member_id, purpose, channel, granted, at) -> bool:
    """Upsert the current answer; True when it changed."""
    current = Consent.objects.filter(member_id=member_id, purpose=purpose, channel=channel).first()
    if current is None:
        Consent.objects.create(member_id=member_id, purpose=purpose, channel=channel, granted=granted, updated_at=at)
        return True
    if current.granted != granted:
        current.granted, current.updated_at = granted, at
        current.save(update_fields=["granted", "updated_at"])
        return True
    return False


@transaction.atomic
def set_consent(*, member: Member, purpose: str, channel: str = ConsentChannel.ALL, granted: bool,
                source: str = "", evidence: str = "", actor, at=None) -> Consent:
    """Grant or withdraw one consent; see the module docstring for the rules."""
    errors = answer_errors(purpose=purpose, channel=channel, granted=granted, source=source, evidence=evidence)
    if errors:
        raise InvalidInput(details=errors)
    locked = Member.objects.select_for_update().filter(pk=member.pk).first()
    if locked is None or not locked.is_live:
        raise InvalidInput(details={"member": [_("This member was merged or erased.")]})
    at = at or timezone.now()
    channels = [channel]
    if withdraws_channel_grants(channel, granted):
        channels += list(
            Consent.objects.filter(member=member, purpose=purpose, granted=True)
            .exclude(channel=ConsentChannel.ALL).order_by("channel").values_list("channel", flat=True)
        )
    user, label = actors.actor_user(actor), actors.actor_label(actor)
    ConsentRecord.objects.bulk_create(
        ConsentRecord(member=member, purpose=purpose, channel=ch, granted=granted, source=source,
                      evidence=evidence, recorded_by=user, recorded_by_label=label, recorded_at=at)
        for ch in channels
    )
    changed = [ch for ch in channels if _store(member.pk, purpose, ch, granted, at)]
    # One member.consent_changed per answer that changed (an answer repeated changes nothing).
    scrm_events.emit_many(CONSENT_CHANGED, [
        (member.pk, locked.home_store_id, {"channel": ch, "purpose": purpose, "granted": granted}) for ch in changed
    ], at=at)
    data = {"purpose": purpose, "channel": channel, "granted": granted, "source": source, "changed": changed}
    if not granted and purpose in (ConsentPurpose.SENSITIVE_DATA, ConsentPurpose.GUARDIAN):
        removed = attributes.drop_attributes_needing(member_id=member.pk, purpose=purpose, actor=actor)
        if removed:
            data["attributes_removed"] = removed
    events.record(member.pk, MemberEvent.Kind.CONSENT, actor, data)
    return Consent.objects.get(member=member, purpose=purpose, channel=channel)


def _marketing(channel: str):
    if channel not in ConsentChannel.values or channel == ConsentChannel.ALL:
        raise ValueError(f"can_message needs one channel ({', '.join(ConsentChannel.values[1:])}), not {channel!r}")
    granted = Consent.objects.filter(
        member=OuterRef("pk"), purpose=ConsentPurpose.MARKETING, granted=True,
        channel__in=[channel, ConsentChannel.ALL],
    )
    withdrawn = Consent.objects.filter(
        member=OuterRef("pk"), purpose=ConsentPurpose.MARKETING, granted=False, channel=channel
    )
    return Exists(granted), Exists(withdrawn)


def messageable(queryset: QuerySet, channel: str) -> QuerySet:
    """The live members of `queryset` a marketing message may reach on `channel` (set-based)."""
    granted, withdrawn = _marketing(channel)
    return queryset.filter(**members_sql.LIVE).filter(granted).exclude(withdrawn)


def can_message(member_ids, channel: str) -> QuerySet:
    """Ids (a lazy queryset, usable as a subquery) of the given members that may get a marketing
    message on `channel`. `member_ids` is a list of ids or a queryset of ids."""
    return messageable(Member.objects.filter(pk__in=member_ids), channel).values_list("pk", flat=True)
