"""What the links app plugs into the registries below it, called once from its AppConfig.ready():
clicks in the member's export, erasure and timeline, and how they follow a merge."""

from __future__ import annotations


def register() -> None:
    from campaigns.links import privacy, timeline

    privacy.register()
    timeline.register()

    from campaigns.links import services
    from campaigns.links.models import Click
    from members.services import merge

    merge.register_handler(Click, "member", services.merge_clicks)
