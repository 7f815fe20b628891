"""The customer's wallet page: signed links, one-time codes, promotions, sharing and transfers."""
