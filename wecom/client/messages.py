"""Application messages (发送应用消息, message/send, path/90236): a text from the corp's app to staff
members by WeCom userid. The app's id (WECOM_AGENT_ID) is required; a text is at most 2,048 bytes.
WeCom sends to the valid recipients and answers the others in `invaliduser` (lower-cased); when
none is valid the call fails with 81013. Each app may message one staff member at most 30 times a
minute and 1,000 an hour (more is dropped silently)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from wecom.client import errors, get_client

MAX_TEXT_BYTES = 2048
MAX_RECIPIENTS = 1000


@dataclass(frozen=True)
class Sent:
    msgid: str
    invalid: tuple[str, ...]  # userids WeCom did not send to (lower-cased, as it answers them)


def agent_id() -> int | None:
    raw = str(settings.WECOM_AGENT_ID or "").strip()
    return int(raw) if raw.isdigit() else None


def send_text(userids: list[str], text: str, *, client=None) -> Sent:
    """Send `text` to the staff members `userids`; errors.NotConfigured without an app id, and the
    client's errors for a refused call (81013 when no recipient is valid)."""
    agent = agent_id()
    if agent is None:
        raise errors.NotConfigured("WECOM_AGENT_ID (the app's AgentId) is not set", "message/send")
    if not 1 <= len(userids) <= MAX_RECIPIENTS:
        raise ValueError(f"1 to {MAX_RECIPIENTS} userids")
    answer = (client or get_client()).post("message/send", {
        "touser": "|".join(userids), "msgtype": "text", "agentid": agent, "text": {"content": text}, "safe": 0,
    })
    invalid = tuple(u for u in str(answer.get("invaliduser") or "").split("|") if u)
    return Sent(msgid=str(answer.get("msgid") or ""), invalid=invalid)
