"""The SQL names of the referrals tables, for raw SQL here and in its demo data: a grep for these
names finds every statement that reads them."""

from __future__ import annotations

from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode

REFERRAL_CODE = ReferralCode._meta.db_table
REFERRAL = Referral._meta.db_table
COMMISSION = Commission._meta.db_table
COMMISSION_RULE = CommissionRule._meta.db_table
