"""The SQL names of the WeCom connector's tables, for raw SQL here and in other apps (campaigns and
communities read follows): a grep for these names finds every statement that reads them."""

from __future__ import annotations

from wecom.models import ErasedContact, SyncCursor, SyncRun, WecomContact, WecomFollow, WecomStaff

STAFF = WecomStaff._meta.db_table
CONTACT = WecomContact._meta.db_table
FOLLOW = WecomFollow._meta.db_table
ERASED_CONTACT = ErasedContact._meta.db_table
SYNC_RUN = SyncRun._meta.db_table
SYNC_CURSOR = SyncCursor._meta.db_table
