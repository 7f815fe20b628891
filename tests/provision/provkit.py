"""Helpers for the provisioning tests: run the CLI in-process, build partitioned test images."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import subprocess
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from venue.cli import main

SECTOR = 512
BOOT_START = 2048  # sectors: the boot partition starts at 1 MiB, as on Raspberry Pi OS
BOOT_SECTORS = 32768  # 16 MiB FAT16
ROOT_START = BOOT_START + BOOT_SECTORS
ROOT_BYTES = 2 * 1024 * 1024
IMAGE_BYTES = (ROOT_START * SECTOR) + ROOT_BYTES
ORIGINAL_CONFIG_TXT = b"# Raspberry Pi OS config.txt\ndtparam=audio=on\n[pi4]\narm_boost=1\n"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def venue(*argv: str) -> CliResult:
    """Run ``venue ARGV...`` in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


def need(*tools: str) -> None:
    """Skip (visibly) when a system tool is missing; `make test` installs them."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install mtools dosfstools "
                    "fdisk)")


def mtools_env() -> dict[str, str]:
    return {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def build_image(path: Path, label: str = "dos") -> bytes:
    """A disk image: FAT16 boot partition with a config.txt, then a random 'root' partition.

    ``label`` is sfdisk's: ``dos`` (MBR, as Raspberry Pi OS) or ``gpt``.

    Returns the image bytes (small enough to hold in a test).
    """
    need("sfdisk", "mkfs.fat", "mcopy")
    with open(path, "wb") as f:
        f.truncate(IMAGE_BYTES)
    if label == "gpt":
        table = (
            "label: gpt\n"
            f"start={BOOT_START}, size={BOOT_SECTORS}, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"
            f"start={ROOT_START}, size={ROOT_BYTES // SECTOR - 40}, "
            "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n"
        )
    else:
        table = (
            "label: dos\n"
            f"start={BOOT_START}, size={BOOT_SECTORS}, type=c, bootable\n"
            f"start={ROOT_START}, type=83\n"
        )
    subprocess.run(["sfdisk", "-q", str(path)], input=table.encode(), check=True)
    subprocess.run(
        ["mkfs.fat", "-F", "16", "-s", "1", "-n", "BOOTFS", "--offset", str(BOOT_START),
         str(path), str(BOOT_SECTORS * SECTOR // 1024)],
        check=True, capture_output=True,
    )
    cfg = path.with_name("config.txt")
    cfg.write_bytes(ORIGINAL_CONFIG_TXT)
    subprocess.run(["mcopy", "-i", f"{path}@@{BOOT_START * SECTOR}", str(cfg), "::/config.txt"],
                   check=True, env=mtools_env())
    cfg.unlink()
    with open(path, "r+b") as f:
        f.seek(ROOT_START * SECTOR)
        # GPT keeps its backup table in the last 33 sectors: leave them alone
        f.write(os.urandom(ROOT_BYTES - (40 * SECTOR if label == "gpt" else 0)))
    return path.read_bytes()


def compress(raw: Path, kind: str) -> Path:
    data = raw.read_bytes()
    if kind == "xz":
        out = raw.with_name(raw.name + ".xz")
        out.write_bytes(lzma.compress(data, preset=0))
    elif kind == "gz":
        out = raw.with_name(raw.name + ".gz")
        out.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        out = raw
    return out


def mdir_names(image: Path, offset: int) -> list[str]:
    res = subprocess.run(["mdir", "-b", "-i", f"{image}@@{offset}", "::/"],
                         check=True, capture_output=True, env=mtools_env())
    return sorted(line.rsplit("/", 1)[-1] for line in res.stdout.decode().splitlines())


def mtype(image: Path, offset: int, name: str) -> bytes:
    res = subprocess.run(["mtype", "-i", f"{image}@@{offset}", f"::/{name}"],
                         check=True, capture_output=True, env=mtools_env())
    return res.stdout


def provision_args(inv: Path, role: str, device: str, *extra: str,
                   site: str = "s1") -> Sequence[str]:
    return ("provision", "--site", site, "--role", role, "--id", device, "--out", str(inv),
            *extra)
