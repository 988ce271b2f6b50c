"""The SQL names of the WeCom connector's tables, for raw SQL here and in other apps (campaigns and
communities read follows, and customer groups): a grep for these names finds every statement that
reads them."""

from __future__ import annotations

from wecom.models import (
    CustomerGroup,
    CustomerGroupMember,
    ErasedContact,
    SyncCursor,
    SyncRun,
    WecomContact,
    WecomFollow,
    WecomStaff,
)

STAFF = WecomStaff._meta.db_table
CONTACT = WecomContact._meta.db_table
FOLLOW = WecomFollow._meta.db_table
ERASED_CONTACT = ErasedContact._meta.db_table
SYNC_RUN = SyncRun._meta.db_table
SYNC_CURSOR = SyncCursor._meta.db_table
GROUP = CustomerGroup._meta.db_table
GROUP_MEMBER = CustomerGroupMember._meta.db_table
