"""Provisioning fixtures; helpers live in ``provkit`` (importable from these tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real OpenSSH public key file (ssh-keygen when present, else a fixed valid line)."""
    d = tmp_path_factory.mktemp("ssh")
    key = d / "id_ed25519"
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tech@laptop",
                        "-f", str(key)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n...\n")
        key.with_suffix(".pub").write_text(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKQUAaGZ1GXZoRBeMppcty3BM3bnJL+MeDCBnQQwp3aB "
            "tech@laptop\n"
        )
    return key.with_suffix(".pub")


@pytest.fixture(scope="session")
def psk_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("wifi") / "psk"
    p.write_text("correct horse battery staple\n")
    return p
