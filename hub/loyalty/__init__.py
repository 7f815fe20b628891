"""Loyalty: customers, the append-only points ledger, rewards, catalog and self-checkout checks."""
