"""Writes of journeys: staff tasks (tasks.py) and the daily rules that create them (rules.py)."""
