"""Tasks: tags."""
