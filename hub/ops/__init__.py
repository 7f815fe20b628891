"""Operators: the command log, the dashboard and the steward page."""
