"""Tasks: events."""
