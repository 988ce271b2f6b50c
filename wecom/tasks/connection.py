"""Tasks: connection."""
