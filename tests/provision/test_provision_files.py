"""`venue provision`: inventory files, secrets kept apart, configs that load, first-boot files."""

from __future__ import annotations

import fnmatch
import json
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from provkit import provision_args, venue

from firmware_config import firstboot
from firmware_config.inventory import Inventory
from firmware_config.mosquitto import hash_password, verify_password
from venue.config import BaseConfig, load_config


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _git_files(inv: Path) -> list[Path]:
    """Files the inventory's .gitignore does not exclude (what a technician commits)."""
    patterns = [
        line.strip().rstrip("/")
        for line in (inv / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    out = []
    for p in inv.rglob("*"):
        rel = p.relative_to(inv).as_posix()
        ignored = any(
            fnmatch.fnmatch(rel, pat) or any(fnmatch.fnmatch(str(parent.as_posix()), pat)
                                             for parent in p.relative_to(inv).parents)
            for pat in patterns
        )
        if p.is_file() and not ignored:
            out.append(p)
    return out


@pytest.fixture
def gate_inv(tmp_path: Path, ssh_key: Path, psk_file: Path) -> Path:
    inv = tmp_path / "inv"
    res = venue(*provision_args(inv, "gate", "g1", "--ssh-key", str(ssh_key),
                                "--wifi-ssid", "Venue Staff", "--wifi-psk-file", str(psk_file),
                                "--hub", "http://hub.example:8000", "--timezone", "Europe/Berlin",
                                "--tls"))
    assert res.code == 0, res.err
    return inv


def test_gate_inventory_files_and_modes(gate_inv: Path) -> None:
    dev = gate_inv / "devices" / "g1"
    for rel in ("device.toml", "gate.toml", "client.crt"):
        assert (dev / rel).is_file(), rel
    for rel in ("mosquitto/passwd", "mosquitto/acl", "mosquitto/venue.conf", "hub-tokens.json",
                "ca/ca.crt", ".gitignore"):
        assert (gate_inv / rel).is_file(), rel
    assert _mode(gate_inv / "secrets.toml") == 0o600
    assert _mode(dev / "boot") == 0o700
    boot = sorted(p.name for p in (dev / "boot").iterdir())
    assert boot == ["custom.toml", "meta-data", "network-config", "user-data", "venue-config.txt",
                    "venue-install.sh"]
    assert all(_mode(p) == 0o600 for p in (dev / "boot").iterdir())


def test_secrets_never_in_files_meant_for_git(gate_inv: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    secrets = tomllib.loads((gate_inv / "secrets.toml").read_text())
    values = [v for dev in secrets["devices"].values() for v in dev.values()]
    values.append(secrets["ca"]["key_pem"])
    values.append("correct horse battery staple")
    assert len(values) >= 6
    committed = _git_files(gate_inv)
    assert any(p.name == "gate.toml" for p in committed)
    assert not any(p.name in ("secrets.toml", "user-data") for p in committed)
    for path in committed:
        text = path.read_text(errors="replace")
        for value in values:
            core = value.strip().splitlines()[1] if "BEGIN" in value else value
            assert core not in text, f"a secret leaked into {path}"
    # ... and the passphrase never leaves the laptop, not even in the first-boot files
    for p in (gate_inv / "devices" / "g1" / "boot").iterdir():
        assert "correct horse" not in p.read_text()


def test_gate_config_loads_with_gate_config(gate_inv: Path) -> None:
    gate_config = pytest.importorskip("gate.config")
    cfg = load_config(gate_config.GateConfig, gate_inv / "devices" / "g1" / "gate.toml", env={})
    assert cfg.device.site == "s1" and cfg.device.id == "g1"
    assert cfg.mqtt.username == "s1.gate.g1"
    assert cfg.mqtt.password is None and cfg.mqtt.password_file.startswith("/etc/venue/secrets/")
    assert cfg.gate.hub_url == "http://hub.example:8000"
    assert cfg.gate.hub_token is None and cfg.gate.hub_token_file
    assert cfg.mqtt.url.startswith("mqtts://") and cfg.mqtt.cert_file


def test_hub_tokens_list_matches_secret(gate_inv: Path) -> None:
    import hashlib

    tokens = json.loads((gate_inv / "hub-tokens.json").read_text())
    secret = tomllib.loads((gate_inv / "secrets.toml").read_text())["devices"]["g1"]["hub_token"]
    assert tokens == [{"device": "g1", "role": "gate", "site": "s1",
                       "token_sha256": hashlib.sha256(secret.encode()).hexdigest()}]


def test_tls_client_cert_is_signed_by_venue_ca(gate_inv: Path) -> None:
    ca = x509.load_pem_x509_certificate((gate_inv / "ca" / "ca.crt").read_bytes())
    cert = x509.load_pem_x509_certificate((gate_inv / "devices/g1/client.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=s1.gate.g1"
    # the CA is reused, not remade, for the next device
    assert venue(*provision_args(gate_inv, "beacon", "b1", "--tls")).code == 0
    cert2 = x509.load_pem_x509_certificate((gate_inv / "devices/b1/client.crt").read_bytes())
    cert2.verify_directly_issued_by(ca)


def test_first_boot_files_parse_and_say_what_they_should(gate_inv: Path, ssh_key: Path) -> None:
    boot = gate_inv / "devices" / "g1" / "boot"
    text = (boot / "user-data").read_text()
    assert text.startswith("#cloud-config\n")
    ud = yaml.safe_load(text)
    assert ud["hostname"] == "s1-g1" and ud["timezone"] == "Europe/Berlin"
    admin = ud["users"][0]
    assert admin["ssh_authorized_keys"] == [ssh_key.read_text().strip()]
    paths = {f["path"]: f for f in ud["write_files"]}
    assert paths["/etc/venue/gate.toml"]["content"] == (
        gate_inv / "devices/g1/gate.toml").read_text()
    assert paths["/etc/venue/secrets/mqtt-password"]["permissions"] == "0640"
    assert "/etc/systemd/system/venue-gate.service" in paths
    enable = ["systemctl", "enable", "--now", "venue-gate.service"]
    assert ud["runcmd"][-2] == enable  # ... and last, the card's user-data loses its secrets
    assert ud["runcmd"][-1][:2] == ["sh", "-c"] and "venue-gate.service" in ud["runcmd"][-1][2]
    assert subprocess.run(["sh", "-n", "-c", ud["runcmd"][-1][2]]).returncode == 0
    assert any("venue[gate]" in " ".join(c) for c in ud["runcmd"])
    net = yaml.safe_load((boot / "network-config").read_text())["network"]
    ap = net["wifis"]["wlan0"]["access-points"]["Venue Staff"]
    assert ap["password"] == firstboot.wpa_psk("Venue Staff", "correct horse battery staple")
    meta = yaml.safe_load((boot / "meta-data").read_text())
    assert meta["local-hostname"] == "s1-g1" and meta["instance-id"].startswith("venue-s1-g1-")
    custom = tomllib.loads((boot / "custom.toml").read_text())
    assert custom["system"]["hostname"] == "s1-g1"
    assert custom["wlan"]["password_encrypted"] is True and custom["wlan"]["ssid"] == "Venue Staff"
    assert custom["ssh"]["authorized_keys"] == [ssh_key.read_text().strip()]
    cfg = (boot / "venue-config.txt").read_text().splitlines()
    assert "camera_auto_detect=1" in cfg and "enable_uart=1" in cfg
    assert "gpio=17=op,dl" in cfg  # the relay (gate.config's default pin) stays off at power-on


def test_wpa_psk_matches_ieee_802_11i_test_vector() -> None:
    assert firstboot.wpa_psk("IEEE", "password") == (
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
    )


@pytest.mark.parametrize("role", ["gate", "kiosk", "beacon", "hub"])
def test_user_data_passes_cloud_init_schema(tmp_path: Path, role: str, ssh_key: Path,
                                            psk_file: Path) -> None:
    exe = shutil.which("cloud-init")
    if exe is None:
        pytest.skip("cloud-init is not installed (apt-get install cloud-init)")
    inv = tmp_path / "inv"
    res = venue(*provision_args(inv, role, f"{role}1", "--ssh-key", str(ssh_key),
                                "--wifi-ssid", "Net", "--wifi-psk-file", str(psk_file)))
    assert res.code == 0, res.err
    user_data = inv / "devices" / f"{role}1" / "boot" / "user-data"
    check = subprocess.run([exe, "schema", "--config-file", str(user_data)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Valid cloud-config" in check.stdout
    # the checker is not a rubber stamp: a wrong type is refused
    bad = tmp_path / "bad-user-data"
    bad.write_text(user_data.read_text().replace("ssh_pwauth: false", "ssh_pwauth: [1]"))
    assert subprocess.run([exe, "schema", "--config-file", str(bad)],
                          capture_output=True).returncode != 0


@pytest.mark.parametrize("role", ["kiosk", "beacon", "hub"])
def test_other_roles_config_is_valid(tmp_path: Path, role: str) -> None:
    from firmware_config.roleconfig import role_config_class

    inv = tmp_path / "inv"
    res = venue(*provision_args(inv, role, f"{role}1", "--rotate", "180"))
    assert res.code == 0, res.err
    path = inv / "devices" / f"{role}1" / f"{role}.toml"
    cls = role_config_class(role) or BaseConfig
    cfg = load_config(cls, path, env={})
    assert cfg.device.id == f"{role}1"  # type: ignore[attr-defined]
    assert cfg.mqtt.username == f"s1.{role}.{role}1"  # type: ignore[attr-defined]
    fragment = (inv / "devices" / f"{role}1" / "boot" / "venue-config.txt").read_text()
    if role == "hub":
        assert cfg.mqtt.url == "mqtt://127.0.0.1:1883"  # type: ignore[attr-defined]
        if cls.__name__ == "HubConfig":  # reachable from the LAN on the port devices were given
            assert cfg.hub.listen == "0.0.0.0:8080"  # type: ignore[attr-defined]
    if role == "kiosk":
        assert "dtoverlay=vc4-kms-v3d" in fragment and "\ndisplay_rotate=" not in fragment
        ud = yaml.safe_load((inv / "devices" / "kiosk1" / "boot" / "user-data").read_text())
        dropin = next(f for f in ud["write_files"] if f["path"].endswith("rotation.conf"))
        assert "KCFG_GRAPHICS_ROTATION=180" in dropin["content"]
        if cls.__name__ == "KioskConfig":  # the kiosk's own setting, when it has one
            assert cfg.kiosk.display.rotation == 180  # type: ignore[attr-defined]
    assert "gpio=17" not in fragment


def test_python_hash_is_mosquitto_format_and_checks(tmp_path: Path) -> None:
    h = hash_password("s3cret", salt=b"0123456789ab")
    kind, iterations, salt, digest = h.split("$")[1:]
    assert (kind, iterations) == ("7", "101") and len(salt) == 16 and len(digest) == 88
    assert verify_password("s3cret", h) and not verify_password("s3creT", h)
    exe = shutil.which("mosquitto_passwd")
    if exe:  # mosquitto's own hash verifies with our code: same format
        f = tmp_path / "pw"
        f.write_text("u:s3cret\n")
        subprocess.run([exe, "-U", str(f)], check=True)
        assert verify_password("s3cret", f.read_text().strip().split(":", 1)[1])


def test_list_and_revoke(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    assert venue(*provision_args(inv, "gate", "g2")).code == 0
    listed = venue("provision", "--list", "--out", str(inv))
    assert listed.code == 0 and "g1" in listed.out and "g2" in listed.out

    res = venue("provision", "--revoke", "g1", "--out", str(inv))
    assert res.code == 0, res.err
    assert "s1.gate.g1" not in (inv / "mosquitto/passwd").read_text()
    assert "s1.gate.g1" not in (inv / "mosquitto/acl").read_text()
    assert "s1.gate.g2" in (inv / "mosquitto/passwd").read_text()
    assert [t["device"] for t in json.loads((inv / "hub-tokens.json").read_text())] == ["g2"]
    assert "g1" not in tomllib.loads((inv / "secrets.toml").read_text())["devices"]
    assert not (inv / "devices/g1/boot").exists()
    rec = Inventory(inv).get("g1")
    assert rec is not None and rec.revoked_at is not None
    assert "revoked" in venue("provision", "--list", "--out", str(inv)).out
    # a revoked id can be provisioned again, with new credentials
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    assert "s1.gate.g1" in (inv / "mosquitto/passwd").read_text()


def _one_line_error(res: object, code: int) -> str:
    assert res.code == code, (res.code, res.out, res.err)  # type: ignore[attr-defined]
    lines = res.err.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


def test_bad_input_is_one_line_and_status_2(tmp_path: Path, ssh_key: Path) -> None:
    inv = tmp_path / "inv"
    assert "role 'router'" in _one_line_error(venue(*provision_args(inv, "router", "x1")), 2)
    assert "device id" in _one_line_error(venue(*provision_args(inv, "gate", "bad/id")), 2)
    assert "site" in _one_line_error(venue(*provision_args(inv, "gate", "g1", site="a b")), 2)
    missing = _one_line_error(
        venue(*provision_args(inv, "gate", "g1", "--ssh-key", str(tmp_path / "nope.pub"))), 2)
    assert "file not found" in missing
    private = ssh_key.with_suffix("")
    assert "private key" in _one_line_error(
        venue(*provision_args(inv, "gate", "g1", "--ssh-key", str(private))), 2)
    assert "--timezone" in _one_line_error(
        venue(*provision_args(inv, "gate", "g1", "--timezone", "Mars/Olympus")), 2)
    assert "missing --site" in _one_line_error(venue("provision", "--out", str(inv)), 2)
    assert not (inv / "devices").exists()  # nothing was half-made
    # a second provisioning of an active id is refused (status 1) unless --force
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    assert "already provisioned" in _one_line_error(venue(*provision_args(inv, "gate", "g1")), 1)
    assert venue(*provision_args(inv, "gate", "g1", "--force")).code == 0
    assert "no device" in _one_line_error(venue("provision", "--revoke", "zz", "--out",
                                                str(inv)), 1)


def test_install_script_writes_what_cloud_init_writes(gate_inv: Path, tmp_path: Path) -> None:
    """venue-install.sh (Bookworm) and user-data (cloud-init) install the same files."""
    boot = gate_inv / "devices" / "g1" / "boot"
    script = tmp_path / "venue-install.sh"
    shutil.copy(boot / "venue-install.sh", script)
    root = tmp_path / "root"
    env = {"VENUE_ROOT": str(root), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    ud = yaml.safe_load((boot / "user-data").read_text())
    for f in ud["write_files"]:
        written = root / f["path"].lstrip("/")
        assert written.read_text() == f["content"], f["path"]
        assert oct(_mode(written))[2:].zfill(4) == f["permissions"]
    assert (root / "etc/venue/secrets/client.key").read_text().startswith("-----BEGIN PRIVATE")


def test_cli_output_holds_no_secret(tmp_path: Path, psk_file: Path) -> None:
    inv = tmp_path / "inv"
    outputs = [venue(*provision_args(inv, "gate", "g1", "--wifi-ssid", "N",
                                     "--wifi-psk-file", str(psk_file), "--tls"))]
    secrets = tomllib.loads((inv / "secrets.toml").read_text())
    outputs.append(venue("provision", "--list", "--out", str(inv)))
    outputs.append(venue("provision", "--revoke", "g1", "--out", str(inv)))
    text = "".join(r.out + r.err for r in outputs)
    assert "provisioned gate s1/g1" in text and "revoked g1" in text
    for value in secrets["devices"]["g1"].values():
        assert value.strip().splitlines()[-2 if "BEGIN" in value else 0] not in text
    assert "correct horse" not in text


def test_wheel_travels_on_the_card(tmp_path: Path) -> None:
    import zipfile

    wheel = tmp_path / "venue-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("venue/__init__.py", "")
    inv = tmp_path / "inv"
    res = venue(*provision_args(inv, "gate", "g1", "--wheel", str(wheel)))
    assert res.code == 0, res.err
    boot = inv / "devices" / "g1" / "boot"
    assert (boot / wheel.name).read_bytes() == wheel.read_bytes()
    ud = yaml.safe_load((boot / "user-data").read_text())
    pip = next(c for c in ud["runcmd"] if "pip" in " ".join(c))
    assert pip[:2] == ["sh", "-c"] and f'"$d/{wheel.name}[gate]"' in pip[2]
    assert "/boot/firmware /boot" in pip[2]
    assert subprocess.run(["sh", "-n", "-c", pip[2]]).returncode == 0
    assert "venue[gate]" not in (boot / "user-data").read_text()  # not from an index
    bad = tmp_path / "other.zip"
    bad.write_bytes(b"")
    res = venue(*provision_args(inv, "gate", "g2", "--wheel", str(bad)))
    assert res.code == 2 and "not a venue wheel" in res.err


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    (inv / "secrets.toml").chmod(0o644)
    res = venue(*provision_args(inv, "gate", "g2"))
    assert res.code == 1 and "chmod 600" in res.err and len(res.err.strip().splitlines()) == 1
    assert not (inv / "devices" / "g2").exists()


def test_crl_names_revoked_and_replaced_certificates(tmp_path: Path) -> None:
    inv = tmp_path / "inv"

    def serial(device: str) -> int:
        cert = (inv / "devices" / device / "client.crt").read_bytes()
        return x509.load_pem_x509_certificate(cert).serial_number

    def crl_serials() -> set[int]:
        crl = x509.load_pem_x509_crl((inv / "ca" / "crl.pem").read_bytes())
        ca = x509.load_pem_x509_certificate((inv / "ca" / "ca.crt").read_bytes())
        assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        return {r.serial_number for r in crl}

    assert venue(*provision_args(inv, "gate", "g1", "--tls")).code == 0
    assert venue(*provision_args(inv, "gate", "g2", "--tls")).code == 0
    first, other = serial("g1"), serial("g2")
    assert crl_serials() == set()
    assert venue(*provision_args(inv, "gate", "g1", "--tls", "--force")).code == 0
    second = serial("g1")
    assert crl_serials() == {first}  # the replaced certificate stays revoked
    assert venue("provision", "--revoke", "g1", "--out", str(inv)).code == 0
    assert crl_serials() == {first, second}
    assert other not in crl_serials()


def test_broker_snippet_keeps_events_while_the_hub_is_away(gate_inv: Path) -> None:
    conf = (gate_inv / "mosquitto" / "venue.conf").read_text().splitlines()
    assert "persistence true" in conf and "allow_anonymous false" in conf
    queued = next(line for line in conf if line.startswith("max_queued_messages"))
    assert int(queued.split()[1]) >= 100_000
