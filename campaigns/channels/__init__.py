"""The channels campaigns send through, by code. Each adapter implements campaigns.channels.base.Channel
and is registered here from campaigns.plugins (the outbox now; WeCom, SMS, email, webhooks later)."""

from __future__ import annotations

from campaigns.channels.base import Channel

_CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> None:
    _CHANNELS[channel.code] = channel


def get(code: str) -> Channel:
    return _CHANNELS[code]


def codes() -> list[str]:
    return sorted(_CHANNELS)


def choices() -> list[tuple[str, str]]:
    return [(code, _CHANNELS[code].label) for code in codes()]
