"""Tables of the sales outlets: quotas, sales, periods and invoices."""

from __future__ import annotations
