"""Points: earn lots, expiry, redemption oldest lot first, and the rewards catalogue."""
