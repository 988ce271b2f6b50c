"""Membership tiers: an operator-defined ladder by net spend (or points) over a rolling window."""
