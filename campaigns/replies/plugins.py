"""What the replies app plugs into the registries below it, called once from its AppConfig.ready():
replies in the member's export, erasure and timeline, and how they follow a merge."""

from __future__ import annotations


def register() -> None:
    from campaigns.replies import privacy, services, timeline
    from campaigns.replies.models import Reply
    from members.services import merge

    privacy.register()
    timeline.register()
    merge.register_handler(Reply, "member", services.merge_replies)
