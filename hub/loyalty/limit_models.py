"""Tables of the state hub replicas share (rate-limit windows)."""

from __future__ import annotations
