"""Drill fixtures: the ``drill`` marker, and the gate/hub helpers on the import path.

Long drills are marked ``@pytest.mark.drill``; they are skipped unless ``VENUE_DRILLS=1`` (the
``make drills`` target sets it), so the default ``pytest`` run keeps only the short ones. The
marker is registered here until pyproject.toml lists it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for extra in (HERE, HERE.parent, HERE.parent / "gate"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

LONG_DRILLS = os.environ.get("VENUE_DRILLS", "") == "1"  # same as drillkit.LONG_DRILLS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drill: long fault drill (run with VENUE_DRILLS=1, i.e. `make drills`)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LONG_DRILLS:
        return
    skip = pytest.mark.skip(reason="long drill: set VENUE_DRILLS=1 (`make drills`) to run it")
    for item in items:
        if "drill" in item.keywords:
            item.add_marker(skip)
