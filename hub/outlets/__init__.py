"""Sales outlets: partner logins that sell tickets of assigned series, and their invoices."""
