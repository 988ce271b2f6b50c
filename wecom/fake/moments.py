"""Customer Moments (客户朋友圈) on the simulated corp: publish tasks made through add_moment_task, the
asynchronous job that creates them (get_moment_task_result), each sender's publish status
(get_moment_task), stopping a task (cancel_moment_task) and the corp's list (get_moment_list).

Knobs a test or the demo sets on ``corp.moments``: ``running_polls`` (how many result polls answer
"started" / "running" before the job is done), ``publish_share`` (the share of senders who publish,
chosen per sender from the seed), ``publish_delay`` (seconds after creation before they have), and
``publish(moment_id, userid)`` to make one sender publish now.
"""

from __future__ import annotations

import random

from .corp import DAY, WeComError, page

TEXT_MAX_BYTES = 10240  # text.content of a Moment (path/95094)
MAX_IMAGES = 9


class Moments:
    def __init__(self, corp):
        self.corp = corp
        self.running_polls = 0
        self.publish_share = 0.7
        self.publish_delay = 1.0
        self.jobs: dict[str, dict] = {}
        self.moments: dict[str, dict] = {}

    # --- add_moment_task ---------------------------------------------------------------------
    def _check_attachments(self, attachments) -> None:
        if not isinstance(attachments, list):
            raise WeComError(40058, "attachments must be a list")
        kinds = [a.get("msgtype") if isinstance(a, dict) else None for a in attachments]
        if any(k not in ("image", "video", "link") for k in kinds):
            raise WeComError(40008, "invalid attachment msgtype")
        if kinds.count("image") > MAX_IMAGES or (("video" in kinds or "link" in kinds) and len(kinds) > 1):
            raise WeComError(40058, "at most 9 images, or one video, or one link")
        for attachment in attachments:
            kind = attachment["msgtype"]
            item = attachment.get(kind)
            if not isinstance(item, dict):
                raise WeComError(40058, f"attachment {kind} has no {kind} object")
            if kind == "link" and not item.get("url"):
                raise WeComError(40058, "attachment link: missing url")
            if kind in ("image", "video") and not item.get("media_id"):
                raise WeComError(40058, f"attachment {kind}: missing media_id")

    def _check_media(self, attachments: list) -> None:
        """Image and video media must come from upload_attachment for Moments (attachment_type 1) and
        be under three days old: 40007 otherwise (a media/upload media_id included)."""
        for attachment in attachments:
            kind = attachment["msgtype"]
            if kind not in ("image", "video"):
                continue
            media_id = attachment[kind]["media_id"]
            found = self.corp.media.get(media_id) if isinstance(media_id, str) else None
            if not self.corp.media_valid(media_id, kind) or (found or {}).get("attachment_type") != 1:
                raise WeComError(40007, f"invalid media_id {media_id!r} for a Moment")

    def add_task(self, body: dict) -> dict:
        text = (body.get("text") or {}).get("content", "") if isinstance(body.get("text"), dict) else ""
        attachments = body.get("attachments") or []
        if not isinstance(text, str) or len(text.encode("utf-8")) > TEXT_MAX_BYTES:
            raise WeComError(40058, "text.content over 10240 bytes")
        self._check_attachments(attachments)
        self._check_media(attachments)
        if not text and not attachments:
            raise WeComError(40058, "text and attachments are both empty")
        visible = body.get("visible_range") or {}
        if not isinstance(visible, dict):
            raise WeComError(40058, "visible_range must be an object")
        senders = (visible.get("sender_list") or {}).get("user_list") or []
        tags = (visible.get("external_contact_list") or {}).get("tag_list") or []
        if not isinstance(senders, list) or not isinstance(tags, list):
            raise WeComError(40058, "user_list and tag_list are lists")
        with self.corp.lock:
            jobid = self.corp._id("job")
            self.jobs[jobid] = {"jobid": jobid, "polls": 0, "text": text, "attachments": attachments,
                                "senders": [str(s) for s in senders], "tags": [str(t) for t in tags],
                                "create_time": int(self.corp.now()), "result": None}
        return {"jobid": jobid}

    # --- get_moment_task_result --------------------------------------------------------------
    def task_result(self, jobid) -> dict:
        with self.corp.lock:
            job = self.jobs.get(jobid or "")
            if job is None:
                raise WeComError(40058, "invalid jobid")
            job["polls"] += 1
            if job["polls"] <= self.running_polls:
                return {"status": 1 if job["polls"] == 1 else 2, "type": "add_moment_task"}
            if job["result"] is None:
                job["result"] = self._finish(job)
            return {"status": 3, "type": "add_moment_task", "result": job["result"]}

    def _valid_sender(self, userid: str) -> bool:
        corp = self.corp
        return userid in corp.staff_index and userid not in corp.resigned and userid not in corp.restricted

    def _finish(self, job: dict) -> dict:
        corp = self.corp
        asked = job["senders"]
        invalid = [u for u in asked if not self._valid_sender(u)]
        senders = [u for u in asked if self._valid_sender(u)] if asked else corp.follow_user_list()
        bad_tags = [t for t in job["tags"] if t not in corp.tag_index]
        lists = {"invalid_sender_list": {"user_list": invalid, "department_list": []},
                 "invalid_external_contact_list": {"tag_list": bad_tags}}
        if not senders:
            return {"errcode": 40003, "errmsg": "invalid userid: no valid sender", **lists}
        moment_id = corp._id("mom")
        self.moments[moment_id] = {"moment_id": moment_id, "create_time": int(corp.now()), "text": job["text"],
                                   "attachments": job["attachments"], "senders": senders, "posted": {},
                                   "cancelled_at": None, "tags": [t for t in job["tags"] if t not in bad_tags]}
        return {"errcode": 0, "errmsg": "ok", "moment_id": moment_id, **lists}

    # --- publish status ----------------------------------------------------------------------
    def _moment(self, moment_id) -> dict:
        moment = self.moments.get(moment_id or "")
        if moment is None:
            raise WeComError(40058, "invalid moment_id")
        return moment

    def _settle(self, moment: dict) -> None:
        """Senders chosen to publish have, once publish_delay has passed (and not after a cancel)."""
        moment_at = moment["create_time"] + self.publish_delay
        now = self.corp.now()
        if now < moment_at:
            return
        stop = moment["cancelled_at"]
        for userid in moment["senders"]:
            if userid in moment["posted"] or (stop is not None and stop < moment_at):
                continue
            chance = random.Random(f"{self.corp.seed}:{moment['moment_id']}:{userid}").random()
            if chance < self.publish_share:
                moment["posted"][userid] = int(moment_at)

    def publish(self, moment_id: str, userid: str) -> None:
        with self.corp.lock:
            moment = self._moment(moment_id)
            if userid not in moment["senders"]:
                raise WeComError(40003)
            moment["posted"].setdefault(userid, int(self.corp.now()))

    def task(self, *, moment_id=None, cursor=None, limit=500) -> dict:
        limit = int(limit or 500)
        if not 1 <= limit <= 1000:
            raise WeComError(40058, "limit must be 1 to 1000")
        with self.corp.lock:
            moment = self._moment(moment_id)
            self._settle(moment)
            rows = [{"userid": u, "publish_status": 1 if u in moment["posted"] else 0} for u in moment["senders"]]
        chunk, next_cursor = page(rows, cursor, limit)
        return {"task_list": chunk, "next_cursor": next_cursor}

    def cancel(self, moment_id) -> None:
        with self.corp.lock:
            moment = self._moment(moment_id)
            self._settle(moment)
            if moment["cancelled_at"] is None:
                moment["cancelled_at"] = int(self.corp.now())

    # --- get_moment_list ---------------------------------------------------------------------
    def list(self, body: dict) -> dict:
        start, end = body.get("start_time"), body.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start or end - start > 30 * DAY:
            raise WeComError(40058, "start_time and end_time span at most 30 days")
        limit = int(body.get("limit") or 20)
        if not 1 <= limit <= 20:
            raise WeComError(40058, "limit must be 1 to 20")
        filter_type = body.get("filter_type", 2)
        with self.corp.lock:
            for job in self.jobs.values():  # by the time anyone lists, WeCom has finished its jobs
                if job["result"] is None:
                    job["result"] = self._finish(job)
            rows = []
            for moment in self.moments.values():
                if not start <= moment["create_time"] <= end or filter_type == 1:
                    continue  # every Moment here is the corp's (create_type 0), none a staff member's own
                row = {"moment_id": moment["moment_id"], "create_type": 0, "visible_type": 1 if moment["tags"] else 0,
                       "create_time": moment["create_time"]}
                if moment["text"]:
                    row["text"] = {"content": moment["text"]}
                rows.append(row)
        chunk, next_cursor = page(rows, body.get("cursor"), limit)
        return {"moment_list": chunk, "next_cursor": next_cursor}

    def state(self) -> dict:
        with self.corp.lock:
            return {"moment_jobs": len(self.jobs), "moments": len(self.moments)}
