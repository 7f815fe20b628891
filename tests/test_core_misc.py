"""UUIDv7 ids, the fake clock and the CLI's shape."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from venue.cli import SUBCOMMANDS, build_parser, main
from venue.clock import FakeClock
from venue.ids import new_id, uuid7


def test_uuid7_version_and_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(u.version == 7 for u in ids)
    assert ids == sorted(ids, key=lambda u: u.int)
    assert len(set(ids)) == len(ids)
    u = uuid7(ms=1_700_000_000_000)
    assert u.int >> 80 == 1_700_000_000_000
    assert uuid.UUID(new_id()).version == 7


def test_fake_clock() -> None:
    c = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    m0 = c.monotonic()
    c.advance(5)
    assert c.now() == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert c.monotonic() == m0 + 5
    c.set(datetime(2020, 1, 1, tzinfo=UTC))
    assert c.monotonic() == m0 + 5
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))


def test_cli_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "venue.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("hub", "kiosk", "gate", "beacon", "monitor", "demo", "provision", "flash"):
        assert f"    {name}" in out
    parser = build_parser()
    assert {s.name for s in SUBCOMMANDS} >= {"hub", "gate", "kiosk", "beacon"}
    assert parser.prog == "venue"


def test_cli_without_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out
