"""Loyalty: orders, tiers, points and referrals, one sub-app each.

Each keeps its own app label ("orders", "tiers", "points", "referrals"), so tables, migrations and
permissions keep their names; they build on the member centre and on one another in that order."""
