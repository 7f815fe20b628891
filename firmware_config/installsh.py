"""``venue-install.sh``: what cloud-init does, as one script for Bookworm-era images.

Those images read ``custom.toml`` (hostname, user, SSH, Wi-Fi) but have no cloud-init, so the
venue part — service user, packages, config, secrets, the venv and the unit — comes from this
script, run once over SSH: ``sudo bash /boot/firmware/venue-install.sh``. It writes the same
files and runs the same commands as ``user-data``: both come from ``install_files`` and
``install_commands`` in :mod:`firmware_config.firstboot`.
File contents travel base64-encoded, so no content can break the shell's quoting. The script
holds secrets, so it deletes itself when it has succeeded.

``VENUE_ROOT=/mnt/rootfs`` writes the files under that root and skips users, packages and
services, for preparing a mounted root file system (and for checking the script's output).
"""

from __future__ import annotations

import base64
import shlex

from firmware_config.firstboot import APT_PACKAGES, FirstBoot, install_commands, install_files

PRELUDE = r"""set -euo pipefail
ROOT="${VENUE_ROOT:-}"
if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  echo "venue-install: run as root: sudo bash $0" >&2
  exit 1
fi
put() {  # put PATH MODE OWNER BASE64
  install -d -m 0755 "$ROOT$(dirname "$1")"
  printf '%s' "$4" | base64 -d > "$ROOT$1"
  chmod "$2" "$ROOT$1"
  if [ -z "$ROOT" ]; then chown "$3" "$1"; fi
}
"""


def install_script(fb: FirstBoot) -> str:
    """The script's text."""
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        f"# venue {fb.role} {fb.site}/{fb.device_id}: install venue on a Bookworm-era Raspberry Pi",
        "# OS image (no cloud-init). Written by `venue provision`; HOLDS SECRETS; deletes itself.",
        "#   sudo bash /boot/firmware/venue-install.sh",
        PRELUDE,
        'if [ -z "$ROOT" ]; then',
        "  getent group venue >/dev/null || groupadd --system venue",
        "  id -u venue >/dev/null 2>&1 || useradd --system --gid venue \\",
        "    --home-dir /var/lib/venue --no-create-home --shell /usr/sbin/nologin \\",
        "    --comment 'venue service' venue",
        "  apt-get update",
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y "
        + " ".join(q(p) for p in APT_PACKAGES[fb.role]),
        "fi",
        "install -d -m 0750 \"$ROOT/etc/venue/secrets\"",
    ]
    for f in install_files(fb):
        payload = base64.b64encode(f.content.encode()).decode()
        lines.append(f"put {q(f.path)} {f.mode} {f.owner} {payload}")
    lines.append('if [ -z "$ROOT" ]; then')
    lines += ["  " + " ".join(q(a) for a in cmd) for cmd in install_commands(fb)]
    lines += ['  rm -f -- "$0"', "fi", 'echo "venue-install: done"', ""]
    return "\n".join(lines)
