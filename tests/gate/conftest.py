"""Gate fixtures; helpers live in ``gatekit`` (importable from the gate tests)."""

from __future__ import annotations

import pytest
from gatekit import Issuer


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()
