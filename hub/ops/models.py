"""Tables of the operators' tools (the command log)."""

from __future__ import annotations
