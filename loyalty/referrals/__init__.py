"""Referrals: every member's code and link, and the commissions orders carrying a code earn."""
