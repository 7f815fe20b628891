"""Tables of more ways to earn: issuance campaigns, fiscal-check claims, campaign QR, referrals."""

from __future__ import annotations
