"""The schema carries no index that another index already serves: every extra index is paid on
each insert (imports, orders, sends)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# Tables Django creates for its own many-to-many relations, and those of third-party apps
# (django-axes, django-otp), whose indexes are theirs to choose.
# Django's own tables and the join tables it creates for many-to-many fields (their pair index leads with
# the same column as the single one Django adds).
IGNORED = ("django_", "auth_", "scrm_user_groups", "scrm_user_user_permissions", "axes_", "otp_",
           "wecom_channelcode_staff", "wecom_channelcode_tags", "communities_community_assistants")


def test_no_btree_index_is_a_prefix_of_another():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.indrelid::regclass::text, a.indexrelid::regclass::text, b.indexrelid::regclass::text
            FROM pg_index a
            JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
            JOIN pg_class ia ON ia.oid = a.indexrelid
            JOIN pg_class ib ON ib.oid = b.indexrelid AND ib.relam = ia.relam
            JOIN pg_am am ON am.oid = ia.relam AND am.amname = 'btree'
            JOIN pg_namespace n ON n.oid = ia.relnamespace AND n.nspname = 'public'
            WHERE NOT a.indisunique AND a.indpred IS NULL AND b.indpred IS NULL
              AND a.indexprs IS NULL AND b.indexprs IS NULL
              AND (b.indkey::text || ' ') LIKE (a.indkey::text || ' %%')
              AND (b.indclass::text || ' ') LIKE (a.indclass::text || ' %%')
              AND (a.indkey::text <> b.indkey::text OR a.indexrelid > b.indexrelid OR b.indisunique)
            ORDER BY 1, 2
            """
        )
        redundant = [row for row in cursor.fetchall() if not row[0].startswith(IGNORED)]
    assert not redundant, "indexes served by another index (table, redundant, served by): " + ", ".join(
        map(str, redundant)
    )
