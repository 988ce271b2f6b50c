"""Tasks: contacts."""
