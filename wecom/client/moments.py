"""Customer Moments (客户朋友圈) through the corp's API (path/95094, path/93333, path/97612):

- `add_task`: add_moment_task makes an asynchronous job (its `jobid`); nothing is published until
  each sender confirms it in their WeCom client. Like add_msg_template it takes no idempotency key:
  a retried call makes a second task, so callers record the intent first and read back
  (`list_moments`) before retrying a call whose answer was lost.
- `task_result`: get_moment_task_result: status 1 started, 2 running, 3 done; once done, `result`
  holds its own errcode, the `moment_id` and the senders and tags WeCom refused.
- `publish_status`: get_moment_task, each sender's publish_status (0 not yet, 1 posted), paged.
- `cancel`: cancel_moment_task stops senders who have not published yet.
- `list_moments`: get_moment_list, the corp's Moments created in a window of at most 30 days.
- `upload_image`: media/upload_attachment (media_type image, attachment_type 1: Moments) gives the
  media_id an image attachment of add_moment_task names (a JPG or PNG of at most 10 MB; a media_id of
  media/upload is not taken). Its media_id lives three days: upload at publish time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from wecom.client import get_client

ADD = "externalcontact/add_moment_task"
RESULT = "externalcontact/get_moment_task_result"
TASK = "externalcontact/get_moment_task"
CANCEL = "externalcontact/cancel_moment_task"
LIST = "externalcontact/get_moment_list"
UPLOAD_ATTACHMENT = "media/upload_attachment"
MOMENT_ATTACHMENT = 1  # upload_attachment's attachment_type for Moments (2: product albums)
MAX_IMAGES = 9  # add_moment_task: at most 9 images, or one video, or one link
STARTED, RUNNING, DONE = 1, 2, 3
PUBLISHED = 1
TEXT_MAX_BYTES = 10240
TASK_PAGE = 1000
LIST_PAGE = 20
MAX_LIST_PAGES = 50


@dataclass(frozen=True)
class JobResult:
    status: int  # 1 started, 2 running, 3 done
    errcode: int = 0  # the job's own outcome, once done
    errmsg: str = ""
    moment_id: str = ""
    invalid_senders: tuple[str, ...] = ()
    invalid_tags: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status == DONE


def body(*, text: str, link_url: str = "", link_title: str = "", senders: list[str] | None = None,
         tag_ids: list[str] | None = None, image_media_ids: list[str] | None = None) -> dict:
    """add_moment_task's body: the text, a link attachment or image attachments (media ids from
    `upload_image`), the senders (none: every staff member with customer contact) and the corp tags of
    the customers who see it (none: all of each sender's)."""
    request: dict = {"text": {"content": text}} if text else {}
    if link_url:
        request["attachments"] = [{"msgtype": "link", "link": {"title": link_title or link_url, "url": link_url}}]
    elif image_media_ids:
        request["attachments"] = [{"msgtype": "image", "image": {"media_id": m}} for m in image_media_ids]
    visible: dict = {}
    if senders:
        visible["sender_list"] = {"user_list": list(senders)}
    if tag_ids:
        visible["external_contact_list"] = {"tag_list": list(tag_ids)}
    if visible:
        request["visible_range"] = visible
    return request


def upload_image(*, filename: str, content: bytes, content_type: str, client=None) -> str:
    """The media_id of an image uploaded as a Moment attachment (the client's errors when refused)."""
    answer = (client or get_client()).upload(
        UPLOAD_ATTACHMENT, params={"media_type": "image", "attachment_type": MOMENT_ATTACHMENT},
        filename=filename, content=content, content_type=content_type)
    return str(answer.get("media_id") or "")


def add_task(request: dict, *, client=None) -> str:
    """The job id of a new publish task (the client's errors for a refused call)."""
    answer = (client or get_client()).post(ADD, request)
    return str(answer.get("jobid") or "")


def task_result(jobid: str, *, client=None) -> JobResult:
    answer = (client or get_client()).get(RESULT, params={"jobid": jobid})
    status = int(answer.get("status") or 0)
    result = answer.get("result") or {}
    if status != DONE or not isinstance(result, dict):
        return JobResult(status=status)
    senders = (result.get("invalid_sender_list") or {}).get("user_list") or []
    tags = (result.get("invalid_external_contact_list") or {}).get("tag_list") or []
    return JobResult(status=status, errcode=int(result.get("errcode") or 0), errmsg=str(result.get("errmsg") or ""),
                     moment_id=str(result.get("moment_id") or ""), invalid_senders=tuple(map(str, senders)),
                     invalid_tags=tuple(map(str, tags)))


def publish_status(moment_id: str, *, client=None) -> Iterator[tuple[str, bool]]:
    """(userid, posted) for each sender of the Moment, every page."""
    for answer in (client or get_client()).pages(TASK, {"moment_id": moment_id, "limit": TASK_PAGE}):
        for row in answer.get("task_list") or []:
            yield str(row.get("userid") or ""), int(row.get("publish_status") or 0) == PUBLISHED


def cancel(moment_id: str, *, client=None) -> None:
    (client or get_client()).post(CANCEL, {"moment_id": moment_id})


def list_moments(*, start_time: int, end_time: int, client=None) -> Iterator[dict]:
    """The corp's Moments created between the two Unix times (at most 30 days apart), every page."""
    request = {"start_time": int(start_time), "end_time": int(end_time), "filter_type": 0, "limit": LIST_PAGE}
    for answer in (client or get_client()).pages(LIST, request, max_pages=MAX_LIST_PAGES):
        yield from answer.get("moment_list") or []
