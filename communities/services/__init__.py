"""Communities' business rules: communities and memberships, events, sign-ups and the waitlist,
check-ins. Views, the API and the tasks call these, so every path shares one rule."""
