"""The ``check_holder`` hint of a redemption answer, for tickets bound to the holder's phone.

When a series is ``bound_to_phone``, the gate or validator may ask the person at the gate for the
last digits of the phone number the ticket was sold to. The answer carries only the masked number
(``+380 ** *** **67``), never the clear one. One indexed query per admission of a ticket that has
a holder; nothing for anonymous tickets or refusals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

_QUERY = text(
    "SELECT c.masked FROM codes k "
    "JOIN series_sales_rules r ON r.series_id = k.series_id "
    "JOIN loyalty_customers c ON c.id = k.customer_id "
    "WHERE k.id = :id AND r.bound_to_phone = :yes"
)


def holder_hint(conn: Connection, code_id: int) -> dict[str, Any] | None:
    """``{"masked_phone", "ask"}`` when the code's series binds tickets to the holder's phone."""
    masked = conn.execute(_QUERY, {"id": code_id, "yes": True}).scalar()
    if masked is None:
        return None
    return {"masked_phone": masked, "ask": "phone_last_digits"}
