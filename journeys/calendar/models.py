"""Planned posts and their per-staff completion."""
