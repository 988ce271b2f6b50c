"""Tasks: channels."""
