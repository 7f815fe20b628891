"""First-boot files for Raspberry Pi OS, so nobody types anything on the Pi.

- cloud-init NoCloud ``user-data``, ``meta-data`` and ``network-config`` (current Raspberry Pi OS
  reads them from the boot partition): hostname, the technician's user with the SSH key, the
  ``venue`` service user, Wi-Fi, timezone and locale, the venue package installed into
  ``/opt/venue`` with the role's extras, config and secrets in ``/etc/venue/``, the unit enabled;
- ``custom.toml`` for Bookworm-era images (Raspberry Pi Imager's format): hostname, user, SSH,
  Wi-Fi and locale, for images that predate cloud-init;
- ``venue-config.txt``, a ``config.txt`` fragment for the role, which ``venue flash`` includes
  from the image's ``config.txt`` instead of replacing it.

The Wi-Fi passphrase is turned into its WPA PSK (PBKDF2 of passphrase and SSID) so the words a
person chose never leave the laptop; the PSK still grants network access, so these files are kept
0600 in the inventory's git-ignored ``boot/`` folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from firmware_config.textfmt import to_toml, to_yaml
from firmware_config.units import INSTALL_PREFIX, UNITS, render_unit, unit_name

ADMIN_GROUPS = ["sudo", "adm", "systemd-journal"]
APT_PACKAGES = {
    "hub": ["python3-venv", "python3-pip", "mosquitto", "mosquitto-clients"],
    "gate": ["python3-venv", "python3-pip", "libzbar0", "python3-picamera2"],
    "kiosk": ["python3-venv", "python3-pip", "libzbar0", "libmtdev1"],
    "beacon": ["python3-venv", "python3-pip", "bluez"],
}
SCRUB = (
    "systemctl is-enabled --quiet {unit} && for f in /boot/firmware/user-data /boot/user-data; "
    'do [ -f "$f" ] && printf "#cloud-config\\n# secrets removed after first boot\\n" > "$f"; '
    "done; true"
)
"""Last first-boot step: once the unit is in place, drop the secrets from the card's user-data."""
GATE_PINS = {17: "op,dl", 27: "op,dl", 22: "op,dl", 23: "op,dl", 24: "ip,pu"}
"""gate.config's default wiring: relay (active high, so driven low = off), green, red and buzzer
outputs low, and the rotation sensor as an input with pull-up, from power-on until venue runs."""


@dataclass(frozen=True)
class FirstBoot:
    """Everything the first-boot files are made from."""

    site: str
    role: str
    device_id: str
    hostname: str
    instance_id: str
    config_text: str
    secret_files: dict[str, str]
    """Files for ``/etc/venue/secrets/`` (name → content), readable by the venue user only."""
    public_files: dict[str, str] = field(default_factory=dict)
    """Other files for ``/etc/venue/`` (CA and client certificates)."""
    admin_user: str = "venue-admin"
    admin_password_hash: str | None = None
    ssh_keys: tuple[str, ...] = ()
    timezone: str = "Etc/UTC"
    locale: str = "en_GB.UTF-8"
    keymap: str = "gb"
    wifi_ssid: str | None = None
    wifi_psk_hex: str | None = None
    wifi_country: str = "GB"
    package: str = "venue"
    """A pip requirement (``venue``, ``venue==0.1.0``), used when no wheel travels on the card."""
    wheel: str | None = None
    """File name of a venue wheel copied to the boot partition; installed instead of ``package``."""
    rotate: int = 0
    broker_files: dict[str, str] = field(default_factory=dict)
    """For a hub: Mosquitto files to install (path on the device → content)."""


def wpa_psk(ssid: str, passphrase: str) -> str:
    """The 256-bit WPA2 PSK (hex), as ``wpa_passphrase`` computes it."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()


@dataclass(frozen=True)
class InstallFile:
    """A file the device gets at first boot."""

    path: str
    content: str
    owner: str = "root:root"
    mode: str = "0644"


ROTATION_DROPIN = "/etc/systemd/system/venue-kiosk.service.d/rotation.conf"


def rotation_dropin(degrees: int) -> str:
    """The kiosk's rotation, applied by Kivy to drawing and touches alike.

    The firmware's ``display_rotate``/``lcd_rotate`` are ignored under KMS (the default driver
    since Bullseye), and rotating in the app works the same on HDMI and DSI screens.
    """
    return f"[Service]\nEnvironment=KCFG_GRAPHICS_ROTATION={degrees}\n"


def install_files(fb: FirstBoot) -> list[InstallFile]:
    """Config, unit, certificates and secrets, as cloud-init and ``venue-install.sh`` write them."""
    files = [
        InstallFile(f"/etc/venue/{fb.role}.toml", fb.config_text),
        InstallFile(f"/etc/systemd/system/{unit_name(fb.role)}", render_unit(fb.role)),
    ]
    if fb.role == "kiosk" and fb.rotate:
        files.append(InstallFile(ROTATION_DROPIN, rotation_dropin(fb.rotate)))
    files += [InstallFile(f"/etc/venue/{n}", c) for n, c in sorted(fb.public_files.items())]
    files += [
        InstallFile(f"/etc/venue/secrets/{n}", c, "root:venue", "0640")
        for n, c in sorted(fb.secret_files.items())
    ]
    files += [
        InstallFile(path, c, "root:mosquitto", "0640")
        for path, c in sorted(fb.broker_files.items())
    ]
    return files


def _pip_install(fb: FirstBoot, extras: str) -> tuple[str, ...]:
    pip = f"{INSTALL_PREFIX}/bin/pip"
    if not fb.wheel:
        return (pip, "install", "--upgrade", f"{fb.package}[{extras}]")
    # The boot partition is /boot/firmware on Bookworm and later, /boot before.
    script = (
        f'for d in /boot/firmware /boot; do if [ -f "$d/{fb.wheel}" ]; then '
        f'exec {pip} install --upgrade "$d/{fb.wheel}[{extras}]"; fi; done; '
        f'echo "venue: {fb.wheel} is not on the boot partition" >&2; exit 1'
    )
    return ("sh", "-c", script)


def install_commands(fb: FirstBoot) -> list[tuple[str, ...]]:
    """After the files: the venv with the role's extras, then the unit enabled and started."""
    extras = "hub,monitor" if fb.role == "hub" else fb.role
    # The gate's venv sees Debian's python3-picamera2 (libcamera has no wheels).
    site_packages = ("--system-site-packages",) if fb.role == "gate" else ()
    cmds: list[tuple[str, ...]] = [
        ("python3", "-m", "venv", *site_packages, INSTALL_PREFIX),
        _pip_install(fb, extras),
        ("chown", "root:venue", "/etc/venue/secrets"),
        ("chmod", "0750", "/etc/venue/secrets"),
        ("systemctl", "daemon-reload"),
    ]
    if fb.role == "hub":
        cmds.append(("systemctl", "restart", "mosquitto.service"))
    cmds.append(("systemctl", "enable", "--now", unit_name(fb.role)))
    return cmds


def user_data(fb: FirstBoot) -> str:
    """cloud-config for NoCloud."""
    admin: dict[str, object] = {
        "name": fb.admin_user,
        "gecos": "venue technician",
        "groups": ADMIN_GROUPS,
        "shell": "/bin/bash",
        "sudo": "ALL=(ALL) ALL",
    }
    if fb.admin_password_hash:
        admin |= {"lock_passwd": False, "hashed_passwd": fb.admin_password_hash}
    else:
        admin["lock_passwd"] = True
    if fb.ssh_keys:
        admin["ssh_authorized_keys"] = list(fb.ssh_keys)
    service_user = {
        "name": "venue",
        "gecos": "venue service",
        "system": True,
        "primary_group": "venue",
        "homedir": "/var/lib/venue",
        "no_create_home": True,
        "shell": "/usr/sbin/nologin",
        "lock_passwd": True,
    }
    files: list[dict[str, object]] = []
    for f in install_files(fb):
        entry: dict[str, object] = {"path": f.path, "content": f.content,
                                    "owner": f.owner, "permissions": f.mode}
        if f.owner != "root:root":
            # Deferred: the venue group exists only after the users module has run.
            entry["defer"] = True
        files.append(entry)
    runcmd: list[object] = [list(c) for c in install_commands(fb)]
    runcmd.append(["sh", "-c", SCRUB.format(unit=unit_name(fb.role))])
    doc = {
        "hostname": fb.hostname,
        "preserve_hostname": False,
        "manage_etc_hosts": True,
        "timezone": fb.timezone,
        "locale": fb.locale,
        "keyboard": {"layout": fb.keymap},
        "ssh_pwauth": False,
        "disable_root": True,
        "groups": ["venue"],
        "users": [admin, service_user],
        "package_update": True,
        "packages": APT_PACKAGES[fb.role],
        "write_files": files,
        "runcmd": runcmd,
    }
    if fb.ssh_keys:
        doc["ssh_deletekeys"] = True
    header = (
        "#cloud-config\n"
        f"# venue {fb.role} {fb.site}/{fb.device_id}, written by `venue provision`. Holds secrets."
    )
    return to_yaml(doc, header=header)


def meta_data(fb: FirstBoot) -> str:
    """NoCloud meta-data: a new instance id makes cloud-init run again on a re-flashed card."""
    return to_yaml({"instance-id": fb.instance_id, "local-hostname": fb.hostname})


def network_config(fb: FirstBoot) -> str:
    """Netplan v2 network config: wired DHCP always, Wi-Fi when an SSID was given."""
    doc: dict[str, object] = {
        "version": 2,
        "ethernets": {"eth0": {"dhcp4": True, "optional": True}},
    }
    if fb.wifi_ssid and fb.wifi_psk_hex:
        doc["wifis"] = {
            "wlan0": {
                "dhcp4": True,
                "optional": True,
                "regulatory-domain": fb.wifi_country,
                "access-points": {fb.wifi_ssid: {"password": fb.wifi_psk_hex}},
            }
        }
    return to_yaml({"network": doc})


def custom_toml(fb: FirstBoot) -> str:
    """Raspberry Pi Imager's ``custom.toml`` (Bookworm's ``init_config``)."""
    data: dict[str, object] = {
        "config_version": 1,
        "system": {"hostname": fb.hostname},
        "user": {"name": fb.admin_user, "password": fb.admin_password_hash or "!",
                 "password_encrypted": True},
        "ssh": {
            "enabled": bool(fb.ssh_keys),
            "password_authentication": False,
            "authorized_keys": list(fb.ssh_keys),
        },
        "locale": {"keymap": fb.keymap, "timezone": fb.timezone},
    }
    if fb.wifi_ssid and fb.wifi_psk_hex:
        data["wlan"] = {
            "ssid": fb.wifi_ssid,
            "password": fb.wifi_psk_hex,
            "password_encrypted": True,
            "hidden": False,
            "country": fb.wifi_country,
        }
    header = (
        f"venue {fb.role} {fb.site}/{fb.device_id} for Bookworm-era images (no cloud-init).\n"
        "It brings the Pi online with SSH; install venue as docs/provisioning.md says."
    )
    return to_toml(data, header=header)


def config_txt(fb: FirstBoot) -> str:
    """The role's ``config.txt`` fragment, included by ``config.txt`` (``include`` line)."""
    lines = [
        f"# venue {fb.role} {fb.device_id}: included from config.txt by `venue flash`.",
        "[all]",
    ]
    if fb.role == "gate":
        lines += ["camera_auto_detect=1", "# serial scanners wired to the GPIO UART"]
        lines += ["enable_uart=1"]
        lines.append("# relay, lamps and buzzer off from power-on; rotation sensor pulled up")
        lines += [f"gpio={pin}={mode}" for pin, mode in GATE_PINS.items()]
    elif fb.role == "kiosk":
        lines += [
            "camera_auto_detect=1",
            "display_auto_detect=1",
            "dtoverlay=vc4-kms-v3d",
            "disable_splash=1",
            f"# rotation {fb.rotate} degrees is applied by the kiosk app (KCFG_GRAPHICS_ROTATION),",
            "# not here: KMS ignores display_rotate/lcd_rotate.",
        ]
    elif fb.role == "beacon":
        lines += ["camera_auto_detect=0", "# keep Bluetooth on the full UART", "enable_uart=0"]
    else:
        lines += ["camera_auto_detect=0"]
    return "\n".join(lines) + "\n"


def render_all(fb: FirstBoot) -> dict[str, str]:
    """Every first-boot file by name, as ``venue flash`` copies them to the boot partition."""
    from firmware_config.installsh import install_script  # it builds on this module
    if fb.role not in UNITS:
        raise ValueError(f"no unit for role {fb.role!r}")
    return {
        "user-data": user_data(fb),
        "meta-data": meta_data(fb),
        "network-config": network_config(fb),
        "custom.toml": custom_toml(fb),
        "venue-config.txt": config_txt(fb),
        "venue-install.sh": install_script(fb),
    }
