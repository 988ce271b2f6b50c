"""Due times for tasks that must be due today whatever the hour the suite runs at."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def later_today(delta: dt.timedelta) -> dt.datetime:
    """Now plus delta, but still today in the brand's time zone (a task "due today" must not fall on
    tomorrow when the suite runs late in the evening)."""
    from journeys.queries import end_of_today

    return min(timezone.now() + delta, end_of_today() - dt.timedelta(seconds=1))
