"""Fuzz tests: Hypothesis drives every parser that takes outside input.

Each property is the same promise: a parser returns a result or raises the project's clear error
for that input (``CodeError``, ``PayloadError``, ``ConfigError``, ``PhoneNumberError``,
``ImportFormatError`` — all ``VenueError``), never an unexpected exception. Inputs are built near
the valid shape (a real signed code with a few characters changed, a real envelope with one field
replaced) so the fuzzer gets past the first check; the plain random-text properties that already
existed (tests/test_codes.py, tests/test_messages.py, tests/test_phone.py, tests/beacon) are not
repeated here.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE.parent / "gate"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))
