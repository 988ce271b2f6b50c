"""Tasks: handovers."""
