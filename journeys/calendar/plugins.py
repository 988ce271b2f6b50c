"""What the content calendar plugs into the registries of the apps below it, called once from its
AppConfig.ready()."""

from __future__ import annotations


def register() -> None:
    pass
