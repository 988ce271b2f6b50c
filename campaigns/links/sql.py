"""The SQL names of the links tables, for raw SQL here and in campaigns' results."""

from __future__ import annotations

from campaigns.links.models import Click, ShortLink, StaffTestLink

LINK = ShortLink._meta.db_table
CLICK = Click._meta.db_table
TEST_LINK = StaffTestLink._meta.db_table  # a test send's links: never joined into a campaign's clicks
