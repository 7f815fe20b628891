"""Tables of the wallet: links, one-time codes, promotions, shares and transfers."""

from __future__ import annotations
