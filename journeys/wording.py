"""What a task says, worded when read: a title and a suggested message for each message code, filled
from the task's parameters and its member's name, so each reader sees them in their language. A
custom task says what its author wrote."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

TITLES = {
    "birthday": gettext_lazy("Greet %(member)s on their birthday"),
    "welcome": gettext_lazy("Welcome %(member)s, who joined yesterday"),
    "repurchase_due": gettext_lazy("%(member)s may need %(category)s again (last bought %(days)s days ago)"),
    "dormant": gettext_lazy("%(member)s has not ordered for %(days)s days"),
    "confirm_wecom_send": gettext_lazy("Confirm %(count)s WeCom mass message(s) waiting for you"),
    "follow_up": gettext_lazy("Follow up with %(member)s"),
    "post_moment": gettext_lazy("Post today's Moment: %(title)s"),
    "post_group": gettext_lazy("Post today's customer-group message: %(title)s"),
}
MESSAGES = {
    "birthday": gettext_lazy("Happy birthday, %(member)s! Everyone at the store wishes you a wonderful year. "
                             "A small birthday gift is waiting for you in store."),
    "welcome": gettext_lazy("Hello %(member)s, welcome! I am your shopping guide; message me any time you "
                            "need advice."),
    "repurchase_due": gettext_lazy("Hello %(member)s, your %(category)s may be running low. Shall I keep one "
                                   "for you?"),
    "dormant": gettext_lazy("Hello %(member)s, we have missed you! Come and see what is new in store."),
    "confirm_wecom_send": gettext_lazy("Open WeCom and send the mass messages the brand prepared for your "
                                       "customers."),
    "follow_up": gettext_lazy("Hello %(member)s, just checking how everything is going."),
    "post_moment": gettext_lazy("Open WeCom, go to Customer Moments and publish the post the brand prepared for "
                                "you today."),
    "post_group": gettext_lazy("Open WeCom and send the post the brand prepared to your customer groups today."),
}


def _params(task) -> dict:
    params = {"member": task.member.name if task.member_id else "", "category": "", "days": "", "count": "",
              "title": ""}
    params.update({k: v for k, v in (task.params or {}).items() if isinstance(v, str | int)})
    return params


def _word(table: dict, task) -> str:
    text = table.get(task.code)
    if text is None:
        return ""
    try:
        return str(text) % _params(task)
    except (KeyError, ValueError, TypeError):
        return str(text)


def title(task) -> str:
    if task.title:
        return task.title
    return _word(TITLES, task) or _("Task")


def message(task) -> str:
    if task.message:
        return task.message
    return _word(MESSAGES, task)
