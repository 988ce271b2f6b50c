"""Interest groups per store, their owners and members, events with sign-up and check-in."""
