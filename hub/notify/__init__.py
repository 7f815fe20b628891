"""Notifications to customers: a queue, retries, and delivery adapters (SMTP email, HTTP SMS)."""
