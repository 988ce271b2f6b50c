"""What the links app plugs into the registries below it, called once from its AppConfig.ready():
clicks in the member's export, erasure and timeline."""

from __future__ import annotations


def register() -> None:
    from campaigns.links import privacy, timeline

    privacy.register()
    timeline.register()
