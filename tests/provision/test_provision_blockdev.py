"""`venue flash` onto a real block device: a loop device over a temp file (root only).

This exercises what an image-file target cannot: O_EXCL on a block device, dropping its page cache
before the read-back, mtools on ``/dev/loopN@@OFFSET``, the confirmation prompt, and the refusal
of a file that is attached to a loop device.
"""

from __future__ import annotations

import io
import lzma
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from provkit import (
    BOOT_SECTORS,
    BOOT_START,
    SECTOR,
    build_image,
    compress,
    mtype,
    provision_args,
    venue,
)

from firmware_config import flash_cli
from venue.cli import build_parser

BOOT_OFFSET = BOOT_START * SECTOR
BOOT_END = BOOT_OFFSET + BOOT_SECTORS * SECTOR


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(device, backing file); detached at teardown. Skipped where loop devices are not ours."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("needs root and losetup for a loop device")
    backing = tmp_path / "card-backing.img"
    with open(backing, "wb") as f:
        f.truncate(24 * 1024 * 1024)
    res = subprocess.run(["losetup", "--find", "--show", str(backing)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot attach a loop device here: {res.stderr.strip()}")
    dev = Path(res.stdout.strip())
    try:
        yield dev, backing
    finally:
        subprocess.run(["losetup", "-d", str(dev)], check=False)


def _read(dev: Path, n: int) -> bytes:
    fd = os.open(dev, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        out = bytearray()
        while len(out) < n:
            chunk = os.read(fd, n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        os.close(fd)


def test_flash_to_block_device(tmp_path: Path, loop_device: tuple[Path, Path]) -> None:
    dev, backing = loop_device
    original = build_image(tmp_path / "raspios.img")
    src = compress(tmp_path / "raspios.img", "xz")
    inv = tmp_path / "inv"
    assert venue(*provision_args(inv, "gate", "g1")).code == 0
    boot = inv / "devices/g1/boot"

    # a file attached to a loop device is refused as a target
    res = venue("flash", str(src), str(backing), "--quiet")
    assert res.code == 2 and f"attached to {dev}" in res.err

    # without a terminal and without --yes, a disk is not written
    res = venue("flash", str(src), str(dev), "--device-dir", str(boot), "--quiet")
    assert res.code == 2 and "--yes" in res.err
    # nor when the technician types another name at the prompt
    args = build_parser().parse_args(["flash", str(src), str(dev), "--device-dir", str(boot),
                                      "--quiet"])
    out = io.StringIO()
    assert flash_cli.run(args, out=out, confirm_in=io.StringIO("sdz\n")) == 2
    assert _read(dev, 1024 * 1024) == b"\0" * (1024 * 1024)

    # typing the device's name confirms
    assert flash_cli.run(args, out=out, confirm_in=io.StringIO(f"{dev.name}\n")) == 0, out
    written = _read(dev, len(original))
    assert written[:BOOT_OFFSET] == original[:BOOT_OFFSET]
    assert written[BOOT_END:] == original[BOOT_END:]
    for p in boot.iterdir():
        assert mtype(dev, BOOT_OFFSET, p.name) == p.read_bytes()
    assert b"include venue-config.txt" in mtype(dev, BOOT_OFFSET, "config.txt")


def test_failed_write_spoils_the_card(tmp_path: Path, loop_device: tuple[Path, Path]) -> None:
    dev, _ = loop_device
    raw = tmp_path / "raspios.img"
    original = build_image(raw)
    assert venue("flash", str(raw), str(dev), "--yes", "--quiet").code == 0
    assert _read(dev, SECTOR)[510:512] == b"\x55\xaa"  # a bootable-looking card now
    truncated = tmp_path / "truncated.img.xz"
    truncated.write_bytes(lzma.compress(original, preset=0)[:200_000])
    res = venue("flash", str(truncated), str(dev), "--yes", "--quiet")
    assert res.code == 1 and "truncated" in res.err
    # no partition table left that a Pi (or a technician) could take for a good card
    assert _read(dev, 1024 * 1024) == b"\0" * (1024 * 1024)
