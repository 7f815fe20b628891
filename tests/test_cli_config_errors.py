"""A broken config stops each role with one line naming the problem and exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROLES = ("hub", "gate", "beacon")

CASES = {
    "wrong_type": ("[mqtt]\nkeepalive = \"often\"\n", "mqtt.keepalive: expected an integer"),
    "unknown_key": ("[device]\nsite = \"s1\"\nsitee = \"s2\"\n", "device.sitee: unknown key"),
    "invalid_toml": ("[device\nsite = 1\n", "invalid TOML"),
    "bad_choice": ("[log]\nlevel = \"LOUD\"\n", "log.level: expected one of"),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config(tmp_path: Path, role: str, case: str) -> None:
    text, fragment = CASES[case]
    conf = tmp_path / f"{role}.toml"
    conf.write_text(text)
    out = subprocess.run([sys.executable, "-m", "venue.cli", role, "--config", str(conf)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert fragment in lines[0] and str(conf) in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("role", ROLES)
def test_missing_config_file(tmp_path: Path, role: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "venue.cli", role, "--config", str(tmp_path / "nope.toml")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert out.returncode == 2
    assert out.stderr.strip().endswith("file not found")
    assert len(out.stderr.strip().splitlines()) == 1


def test_subcommand_whose_module_is_absent_says_not_yet_available(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from venue import cli

    absent = cli.Subcommand("later", "venue.not_here_yet", "a role still to come", "Later.")
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, absent))
    assert cli.main(["later"]) == 2
    assert "not yet available" in capsys.readouterr().err
