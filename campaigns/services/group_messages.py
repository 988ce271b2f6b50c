"""Campaign messages to WeCom customer groups (channel `wecom_group`): add_msg_template with chat_type
"group", one task per group owner (the sender must be the owner) carrying that owner's chat_id_list.

A campaign's audience (GroupAudience: chosen groups, every group of a store, every group of chosen
owners) becomes one GroupDelivery per (campaign, group) when sending starts (`fan_out`); a store's
campaign reaches only that store's groups. The tick (`run`) hands each owner's pending rows to one
task with the machinery of campaigns.services.wecom_tasks: the WecomMassTask row (chat_type "group",
delivery_ids = the GroupDelivery ids) is the intent, committed with the rows claimed ("sending")
before the create call; an unanswered call leaves it unknown, and before anything of the campaign is
created again every open row is settled by reading WeCom's tasks back (wecom_tasks.resolve): a task
found is adopted, only one WeCom has no record of is made again. Results are polled by
campaigns.services.wecom_results, which writes them here through this module's ledger functions
(`apply_page`, `waiting`, `expire`): per group sent, or unsent when the owner did not send it in time.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    ERROR_MAX,
    Campaign,
    CampaignStatus,
    DeliveryReason,
    GroupAudience,
    GroupDelivery,
    GroupDeliveryState,
    WecomMassTask,
    WecomTaskState,
)
from campaigns.services import wecom_tasks
from scrm import permissions
from scrm.actors import actor_label, actor_user
from scrm.errors import InvalidInput
from scrm.scoping import access_for
from wecom.client import errors, get_client
from wecom.models import CustomerGroup, WecomStaff

logger = logging.getLogger(__name__)

CHANNEL = "wecom_group"
MAX_CHATS = 2000  # chat_id_list per add_msg_template call (chat_type group)
G = GroupDeliveryState
S = WecomTaskState
GROUP_DELIVERY = GroupDelivery._meta.db_table


# --- the audience --------------------------------------------------------------------------------


def _store_of(actor, store):
    access = access_for(actor)
    if access.all_stores:
        return store
    if store is not None and store.pk != access.store_id:
        raise InvalidInput(details={"store": [_("You can only send to your own store's groups.")]})
    from scrm.models import Store

    return Store.objects.get(pk=access.store_id)


def _pks(items) -> list[int]:
    return sorted({item.pk if hasattr(item, "pk") else int(item) for item in items})


def _listed(ids) -> str:
    return ", ".join(str(i) for i in ids)


def _group_problems(actor, group_ids: list[int]) -> list[str]:
    """What is wrong with the chosen groups, each problem naming the ids: unknown, another store's
    (a store role's campaign reaches its own store's groups only), dismissed."""
    access = access_for(actor)
    found = {g.pk: g for g in CustomerGroup.objects.filter(pk__in=group_ids).only("pk", "store_id", "dismissed_at")}
    unknown = [i for i in group_ids if i not in found]
    others = [i for i in group_ids if i in found and not access.allows_store(found[i].store_id)]
    dismissed = [i for i in group_ids if i in found and i not in others and found[i].dismissed_at is not None]
    problems = []
    if unknown:
        problems.append(_("No customer group %(ids)s.") % {"ids": _listed(unknown)})
    if others:
        problems.append(_("Customer group %(ids)s belongs to another store: you can only send to your own "
                          "store's groups.") % {"ids": _listed(others)})
    if dismissed:
        problems.append(_("Customer group %(ids)s is dismissed in WeCom.") % {"ids": _listed(dismissed)})
    return problems


def _owners(actor, owner_ids: list[int], userids: list[str]) -> tuple[list[int], list[str]]:
    """The chosen owners' WecomStaff ids (by id or WeCom userid), and what is wrong with them."""
    access = access_for(actor)
    by_pk = {w.pk: w for w in WecomStaff.objects.filter(pk__in=owner_ids).only("pk", "store_id")}
    by_userid = {w.userid: w for w in WecomStaff.objects.filter(userid__in=userids).only("pk", "userid", "store_id")}
    unknown = [str(i) for i in owner_ids if i not in by_pk] + [u for u in userids if u not in by_userid]
    chosen = [*by_pk.values(), *by_userid.values()]
    others = sorted({w.userid for w in chosen if not access.allows_store(w.store_id)})
    problems = []
    if unknown:
        problems.append(_("No WeCom staff member %(ids)s.") % {"ids": _listed(unknown)})
    if others:
        problems.append(_("%(ids)s is staff of another store: you can only send for your own store's staff.")
                        % {"ids": _listed(others)})
    return sorted({w.pk for w in chosen}), problems


def create_group_campaign(*, actor, name: str, content: str, groups=(), owners=(), owner_userids=(), store=None,
                          scheduled_at: dt.datetime | None = None) -> Campaign:
    """A draft `wecom_group` campaign to the chosen groups, the groups of `owners` (WecomStaff, or
    their ids; `owner_userids`: by WeCom userid) and every group of `store`. The groups and owners must
    be the actor's to send to (a store role's: its store's), and its campaign is its store's. Its text
    is one for every group: no personal fields, within WeCom's 4,000 bytes. Every problem is an
    InvalidInput naming its field (groups, owners, store, name, content, scheduled_at)."""
    from campaigns import channels
    from campaigns import content as content_rules

    permissions.require_write(actor, "campaigns")
    problems: dict[str, list] = {}
    group_ids = _pks(groups)
    if group_problems := _group_problems(actor, group_ids):
        problems["groups"] = group_problems
    owner_ids, owner_problems = _owners(actor, _pks(owners), sorted(set(owner_userids)))
    if owner_problems:
        problems["owners"] = owner_problems
    if store is not None and not access_for(actor).allows_store(store.pk):
        problems["store"] = [_("You can only send to your own store's groups.")]
    if not (group_ids or owner_ids or owner_userids or store):
        problems["groups"] = [_("Choose groups, owners or a store whose groups receive the message.")]
    if not name.strip():
        problems["name"] = [_("Give the campaign a name.")]
    if scheduled_at is not None and scheduled_at < timezone.now() - dt.timedelta(minutes=1):
        problems["scheduled_at"] = [_("The schedule is in the past.")]
    for check in (lambda: content_rules.check(content, max_bytes=channels.get(CHANNEL).max_text_bytes),
                  lambda: channels.get(CHANNEL).check(content)):
        try:
            check()
        except InvalidInput as exc:  # the text's problems beside the others, each under its field
            for field, messages in (exc.details or {"content": [exc.message]}).items():
                problems.setdefault(field, []).extend(messages)
            break
    if problems:
        raise InvalidInput(details=problems)
    campaign_store = _store_of(actor, store)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name.strip()[:100], store=campaign_store, channel=CHANNEL, content=content,
            scheduled_at=scheduled_at, created_by=actor_user(actor), created_by_label=actor_label(actor),
        )
        GroupAudience.objects.create(campaign=campaign, group_ids=group_ids, owner_ids=owner_ids, store=store)
    return campaign


def audience_of(campaign: Campaign) -> GroupAudience | None:
    return GroupAudience.objects.filter(campaign=campaign).select_related("store").first()


def counts_of(campaign_ids: list[int], actor) -> dict[int, dict[str, int]]:
    """Group deliveries by state for each campaign (one query; the actor's store's rows for a store
    role), each with its total."""
    found: dict[int, dict[str, int]] = {pk: dict.fromkeys(G.values, 0) | {"total": 0} for pk in campaign_ids}
    rows = (GroupDelivery.objects.visible_to(actor).filter(campaign_id__in=campaign_ids).order_by()
            .values_list("campaign_id", "state").annotate(n=Count("id")))
    for campaign_id, state, n in rows:
        found[campaign_id][state] = n
        found[campaign_id]["total"] += n
    return found


def audience_groups(campaign: Campaign):
    """The live groups the campaign's audience names, cut to its store for a store's campaign."""
    audience = GroupAudience.objects.filter(campaign=campaign).first()
    if audience is None:
        return CustomerGroup.objects.none()
    wanted = Q(pk__in=audience.group_ids) | Q(owner_id__in=audience.owner_ids)
    if audience.store_id:
        wanted |= Q(store_id=audience.store_id)
    groups = CustomerGroup.objects.filter(wanted, dismissed_at__isnull=True)
    if campaign.store_id:
        groups = groups.filter(store_id=campaign.store_id)
    return groups


def fan_out(*, campaign: Campaign, now: dt.datetime) -> int:
    """One GroupDelivery per group of the audience (INSERT ... SELECT; a rerun adds none), in the
    caller's transaction. A campaign with no group to send to is refused."""
    groups = audience_groups(campaign).exclude(owner_userid="")
    sql, params = groups.values("id", "chat_id", "owner_userid", "store_id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {GROUP_DELIVERY} (campaign_id, group_id, chat_id, sender, store_id, state, reason, msgid, "
            "error, created_at, updated_at) "
            f"SELECT %s, g.id, g.chat_id, g.owner_userid, g.store_id, 'pending', '', '', '', %s, %s FROM ({sql}) g "
            "ON CONFLICT (campaign_id, group_id) DO NOTHING",
            [campaign.pk, now, now, *params],
        )
        added = cursor.rowcount
    if not GroupDelivery.objects.filter(campaign=campaign).exists():
        raise InvalidInput(details={"groups": [_("None of the chosen groups can be sent to (dismissed, or "
                                                 "not synced with an owner).")]})
    if campaign.send_month is None:
        campaign.send_month = now.date().replace(day=1)
        campaign.save(update_fields=["send_month"])
    return added


# --- the ledger as the task's state says --------------------------------------------------------


def adopt(task: WecomMassTask) -> None:
    """Bring the task's rows in step with it: a created task's rows wait for the owner (accepted, its
    msgid); a failed one's go back to pending (cancelled when the campaign is)."""
    if task.state == S.CREATED and task.msgid:
        GroupDelivery.objects.filter(pk__in=task.delivery_ids, state=G.SENDING).update(
            state=G.ACCEPTED, task=task, msgid=task.msgid, error="", updated_at=timezone.now())
    elif task.state in (S.FAILED, S.CANCELLED):
        cancelled = Campaign.objects.filter(pk=task.campaign_id, status=CampaignStatus.CANCELLED).exists()
        GroupDelivery.objects.filter(pk__in=task.delivery_ids, state=G.SENDING, task=task).update(
            state=G.CANCELLED if cancelled else G.PENDING, reason=DeliveryReason.CANCELLED if cancelled else "",
            error=task.error[:ERROR_MAX], updated_at=timezone.now())


def _settle_open(campaign: Campaign, *, client, now: dt.datetime) -> bool:
    """Read back the campaign's group tasks whose outcome is unknown (or whose worker is surely gone)
    and adopt what WeCom says. False while an intent is fresh (its worker may still be answered)."""
    fresh = False
    for task in WecomMassTask.objects.filter(campaign=campaign, chat_type="group", state__in=wecom_tasks.OPEN):
        if task.state == S.INTENT and task.intended_at >= now - wecom_tasks.STALE_INTENT:
            fresh = True
            continue
        adopt(wecom_tasks.resolve(task, client=client, now=now))
    for task in WecomMassTask.objects.filter(campaign=campaign, chat_type="group", state__in=(S.CREATED, S.FAILED)):
        if GroupDelivery.objects.filter(pk__in=task.delivery_ids, state=G.SENDING, task=task).exists():
            adopt(task)
    return not fresh


def _claim(campaign: Campaign, sender: str, text: str, now: dt.datetime) -> WecomMassTask | None:
    """The intent: up to MAX_CHATS of the owner's pending rows, locked and marked sending, and the
    task row carrying them, committed together before the call."""
    with transaction.atomic():
        rows = list(GroupDelivery.objects.select_for_update(skip_locked=True)
                    .filter(campaign=campaign, sender=sender, state=G.PENDING).order_by("id")[:MAX_CHATS])
        if not rows:
            return None
        owner = WecomStaff.objects.filter(userid=sender).first()
        task = WecomMassTask.objects.create(
            campaign=campaign, chat_type="group", staff_id=owner.user_id if owner else None,
            store_id=rows[0].store_id, sender=sender, text=text, delivery_ids=[r.pk for r in rows],
            customers=len(rows), intended_at=now,
        )
        GroupDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(state=G.SENDING, task=task, updated_at=now)
    return task


def _create(task: WecomMassTask, *, client, now: dt.datetime) -> None:
    """The add_msg_template call of one intent, and what its answer means for the task and its rows.
    RateLimited and refused credentials propagate (nothing was created; the rows wait again)."""
    chats = list(GroupDelivery.objects.filter(pk__in=task.delivery_ids).order_by("id")
                 .values_list("chat_id", flat=True))
    body = {"chat_type": "group", "sender": task.sender, "text": {"content": task.text}, "chat_id_list": chats}
    try:
        answer = client.post(wecom_tasks.CREATE, body)
    except (errors.RateLimited, errors.CredentialsRejected, errors.NotConfigured) as exc:
        WecomMassTask.objects.filter(pk=task.pk).update(state=S.FAILED, error=str(exc)[:ERROR_MAX], finished_at=now)
        task.refresh_from_db()
        adopt(task)
        raise
    except errors.Unavailable as exc:
        # Outcome unknown: WeCom may have made the task; settled by reading back before any retry.
        WecomMassTask.objects.filter(pk=task.pk).update(state=S.UNKNOWN, error=str(exc)[:ERROR_MAX])
        return
    except errors.WecomError as exc:  # refused for good (not the owner, bad text): these groups fail
        WecomMassTask.objects.filter(pk=task.pk).update(state=S.FAILED, error=str(exc)[:ERROR_MAX], finished_at=now)
        GroupDelivery.objects.filter(pk__in=task.delivery_ids, state=G.SENDING).update(
            state=G.FAILED, reason=DeliveryReason.PROVIDER_ERROR, error=str(exc)[:ERROR_MAX], updated_at=now)
        return
    msgid = str(answer.get("msgid") or "")[:64]
    if not msgid:
        WecomMassTask.objects.filter(pk=task.pk).update(
            state=S.FAILED, error=_("WeCom made no task for these groups."), finished_at=now)
        GroupDelivery.objects.filter(pk__in=task.delivery_ids, state=G.SENDING).update(
            state=G.FAILED, reason=DeliveryReason.PROVIDER_ERROR, error=_("WeCom made no task for these groups."),
            updated_at=now)
        return
    WecomMassTask.objects.filter(pk=task.pk).update(
        state=S.CREATED, msgid=msgid, created_at=now, next_poll_at=now, error="")
    task.refresh_from_db()
    adopt(task)


def run(campaign: Campaign, *, client=None, now: dt.datetime | None = None) -> int:
    """The tick's work for one sending `wecom_group` campaign: settle open tasks by reading back,
    then one task per owner for the groups still pending. Returns the tasks created. WeCom being
    unreadable or rate-limited leaves everything for the next tick."""
    now = now or timezone.now()
    try:
        client = client or get_client()
        if not _settle_open(campaign, client=client, now=now):
            return 0  # another worker's call is in flight: its answer decides first
    except errors.WecomError as exc:
        logger.info("group campaign %s: WeCom not readable (%s); next tick", campaign.pk, exc)
        return 0
    senders = sorted(set(GroupDelivery.objects.filter(campaign=campaign, state=G.PENDING)
                         .values_list("sender", flat=True)))
    text = wecom_tasks.task_text(campaign.pk)
    created = 0
    for sender in senders:
        while (task := _claim(campaign, sender, text, now)) is not None:
            try:
                _create(task, client=client, now=now)
            except errors.WecomError as exc:
                logger.info("group campaign %s: %s; the rest waits for the next tick", campaign.pk, exc)
                return created
            created += 1
    return created


# --- the ledger functions wecom_results writes through ---------------------------------------------


def apply_page(task: WecomMassTask, campaign: Campaign, rows: list[dict], *, now: dt.datetime, report) -> None:
    """One page of get_groupmsg_send_result: the groups the owner sent it to (status 1) are sent."""
    adopt(task)
    sent = {str(r["chat_id"]): int(r.get("send_time") or 0) for r in rows
            if int(r.get("status") or 0) == 1 and r.get("chat_id")}
    if not sent:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {GROUP_DELIVERY} g SET state = 'sent', reason = '', updated_at = %s, "
            "sent_at = CASE WHEN k.sent > 0 THEN to_timestamp(k.sent) ELSE %s END "
            "FROM unnest(%s::text[], %s::bigint[]) AS k(chat, sent) "
            "WHERE g.task_id = %s AND g.chat_id = k.chat AND g.state = 'accepted'",
            [now, now, list(sent), list(sent.values()), task.pk],
        )
        report.sent += cursor.rowcount


def waiting(task: WecomMassTask, campaign: Campaign) -> int:
    adopt(task)
    return GroupDelivery.objects.filter(task=task, state__in=(G.ACCEPTED, G.SENDING)).count()


def expire(task: WecomMassTask, campaign: Campaign, *, reason: str, now: dt.datetime, error: str = "") -> int:
    """The task's groups still waiting are final: unsent (the owner did not send it in time),
    cancelled, or failed (WeCom kept refusing to be read)."""
    state = {DeliveryReason.CANCELLED: G.CANCELLED, DeliveryReason.NOT_CONFIRMED: G.UNSENT}.get(reason, G.FAILED)
    return GroupDelivery.objects.filter(task=task, state__in=(G.ACCEPTED, G.SENDING)).update(
        state=state, reason=reason, error=error[:ERROR_MAX], updated_at=now)


def cancel(campaign: Campaign, *, now: dt.datetime) -> int:
    """A cancelled campaign's groups not handed to WeCom yet are cancelled (those in tasks are, once
    the tasks are cancelled in WeCom and read back)."""
    return GroupDelivery.objects.filter(campaign=campaign, state=G.PENDING).update(
        state=G.CANCELLED, reason=DeliveryReason.CANCELLED, updated_at=now)


# --- reading -------------------------------------------------------------------------------------


def counts(campaign: Campaign, actor=None) -> dict[str, int]:
    """The campaign's group deliveries by state (the actor's store's only, for a store role)."""
    rows = GroupDelivery.objects.filter(campaign=campaign)
    if actor is not None:
        rows = GroupDelivery.objects.visible_to(actor).filter(campaign=campaign)
    found = dict(rows.order_by().values_list("state").annotate(n=Count("id")))
    result = {state: found.get(state, 0) for state in G.values}
    result["total"] = sum(found.values())
    return result
