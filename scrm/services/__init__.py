"""Writes with business rules for the organisation: API keys, staff accounts, audit entries."""
