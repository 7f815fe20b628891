"""systemd units: one per role, equal to what provisioning installs, accepted by systemd-analyze."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_config.units import render_unit, unit_name
from venue.topics import ROLES

REPO = Path(__file__).resolve().parents[2]
SYSTEM_UNITS = next((p for p in (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))
                     if p.is_dir()), None)


def _parse(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(text)
    return cp


@pytest.mark.parametrize("role", ROLES)
def test_unit_file_in_repo_is_the_rendered_one(role: str) -> None:
    assert (REPO / "systemd" / unit_name(role)).read_text() == render_unit(role), (
        "run `python -m firmware_config.units systemd/`"
    )


@pytest.mark.parametrize("role", ROLES)
def test_unit_is_a_hardened_notify_service(role: str) -> None:
    s = _parse(render_unit(role))["Service"]
    assert s["Type"] == "notify" and int(s["WatchdogSec"]) > 0
    assert s["Restart"] == "on-failure"
    assert s["User"] == "venue" and s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["ReadWritePaths"] == f"/var/lib/venue-{role}"
    assert s["StateDirectory"] == f"venue-{role}"
    assert s["ExecStart"] == f"/opt/venue/bin/venue {role} --config /etc/venue/{role}.toml"
    assert s["CapabilityBoundingSet"] == ""
    groups = set(s.get("SupplementaryGroups", "").split())
    expected = {"hub": set(), "gate": {"gpio", "video", "dialout", "input"},
                "kiosk": {"video", "render", "input"}, "beacon": {"bluetooth"}}[role]
    assert groups == expected
    assert s["PrivateDevices"] == ("yes" if role == "hub" else "no")
    assert _parse(render_unit(role))["Unit"]["StartLimitBurst"]


def _verify(root: Path, unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", str(unit)],
        capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with systemd's units and a stand-in /opt/venue/bin/venue (ExecStart is checked)."""
    if shutil.which("systemd-analyze") is None or SYSTEM_UNITS is None:
        pytest.skip("systemd-analyze is not installed here")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    exe = root / "opt/venue/bin/venue"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    return root


@pytest.mark.parametrize("role", ROLES)
def test_systemd_analyze_verify_accepts_unit(fake_root: Path, role: str) -> None:
    unit = fake_root / "etc/systemd/system" / unit_name(role)
    unit.write_text(render_unit(role))
    res = _verify(fake_root, unit)
    assert res.returncode == 0 and res.stdout + res.stderr == "", res.stdout + res.stderr


def test_systemd_analyze_verify_is_not_a_rubber_stamp(fake_root: Path) -> None:
    unit = fake_root / "etc/systemd/system/venue-broken.service"
    unit.write_text(render_unit("gate").replace("ProtectSystem=", "ProtectSytem="))
    res = _verify(fake_root, unit)
    assert "Unknown key" in res.stdout + res.stderr


def test_kiosk_rotation_dropin_verifies(fake_root: Path) -> None:
    from firmware_config.firstboot import ROTATION_DROPIN, rotation_dropin

    unit = fake_root / "etc/systemd/system" / unit_name("kiosk")
    unit.write_text(render_unit("kiosk"))
    dropin = fake_root / ROTATION_DROPIN.lstrip("/")
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text(rotation_dropin(90))
    try:
        res = _verify(fake_root, unit)
        assert res.returncode == 0 and res.stdout + res.stderr == "", res.stdout + res.stderr
        dropin.write_text(rotation_dropin(90).replace("Environment", "Enviroment"))
        assert "Unknown key" in _verify(fake_root, unit).stderr  # the drop-in is read
    finally:
        dropin.unlink()
