"""The SQL name of the replies table, for raw SQL here and in the apps above (journeys' branch)."""

from __future__ import annotations

from campaigns.replies.models import Reply

REPLY = Reply._meta.db_table
