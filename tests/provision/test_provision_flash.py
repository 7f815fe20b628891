"""`venue flash`: compressed images written to an image file, verified, customised with mtools."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import pytest
from provkit import (
    BOOT_SECTORS,
    BOOT_START,
    ORIGINAL_CONFIG_TXT,
    SECTOR,
    build_image,
    compress,
    mdir_names,
    mtype,
    need,
    provision_args,
    venue,
)

import firmware_config.flash as flash_mod
from firmware_config.errors import FlashError
from firmware_config.images import boot_partition
from firmware_config.progress import PlainProgress
from firmware_config.safety import SystemView, check_target
from venue.clock import FakeClock

BOOT_OFFSET = BOOT_START * SECTOR
BOOT_END = BOOT_OFFSET + BOOT_SECTORS * SECTOR


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    d = tmp_path_factory.mktemp("image")
    raw = d / "raspios.img"
    return raw, build_image(raw)


@pytest.fixture(scope="module")
def boot_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    inv = tmp_path_factory.mktemp("inv") / "inv"
    out = {}
    for role in ("gate", "kiosk", "beacon"):
        assert venue(*provision_args(inv, role, f"{role}1")).code == 0
        out[role] = inv / "devices" / f"{role}1" / "boot"
    return out


@pytest.mark.parametrize(("kind", "role"), [("xz", "gate"), ("gz", "kiosk"), ("raw", "beacon")])
def test_flash_writes_verifies_and_adds_first_boot_files(
    tmp_path: Path, image: tuple[Path, bytes], boot_dirs: dict[str, Path], kind: str, role: str
) -> None:
    raw, original = image
    src = compress(raw, kind) if kind != "raw" else raw
    target = tmp_path / "card.img"
    res = venue("flash", str(src), str(target), "--device-dir", str(boot_dirs[role]), "--quiet")
    assert res.code == 0, res.err
    assert hashlib.sha256(original).hexdigest() in res.out  # the read-back hash is reported
    written = target.read_bytes()
    assert len(written) == len(original)
    # everything outside the boot partition is byte-identical to the image
    assert written[:BOOT_OFFSET] == original[:BOOT_OFFSET]
    assert written[BOOT_END:] == original[BOOT_END:]
    assert boot_partition(target).offset == BOOT_OFFSET
    names = mdir_names(target, BOOT_OFFSET)
    for p in boot_dirs[role].iterdir():
        assert p.name in names
        assert mtype(target, BOOT_OFFSET, p.name) == p.read_bytes()
    config = mtype(target, BOOT_OFFSET, "config.txt")
    assert config.startswith(ORIGINAL_CONFIG_TXT)
    assert config.endswith(b"[all]\ninclude venue-config.txt\n")  # after [pi4]: applies to all
    assert not list(tmp_path.glob(".*partial"))


def test_flash_twice_includes_the_fragment_once(
    tmp_path: Path, image: tuple[Path, bytes], boot_dirs: dict[str, Path]
) -> None:
    raw, _ = image
    target = tmp_path / "card.img"
    assert venue("flash", str(raw), str(target), "--quiet").code == 0  # no --device-dir: plain
    assert "user-data" not in mdir_names(target, BOOT_OFFSET)
    fp = flash_mod.plan(raw, target, boot_dirs["gate"])
    flash_mod.add_boot_files(target, fp.boot_files, flash_mod.Mtools())
    flash_mod.add_boot_files(target, fp.boot_files, flash_mod.Mtools())
    assert mtype(target, BOOT_OFFSET, "config.txt").count(b"include venue-config.txt") == 1


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_xz_fails_and_leaves_no_image(
    tmp_path: Path, image: tuple[Path, bytes], boot_dirs: dict[str, Path], damage: str
) -> None:
    _, original = image
    data = lzma.compress(original, preset=0)
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:
        mid = len(data) // 2
        data = data[:mid] + bytes(b ^ 0x5A for b in data[mid : mid + 64]) + data[mid + 64 :]
    bad = tmp_path / f"{damage}.img.xz"
    bad.write_bytes(data)
    target = tmp_path / "card.img"
    res = venue("flash", str(bad), str(target), "--device-dir", str(boot_dirs["gate"]),
                "--quiet")
    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and damage in lines[0] and str(bad) in lines[0]
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


def test_image_without_partition_table_is_refused_after_write(
    tmp_path: Path, boot_dirs: dict[str, Path]
) -> None:
    blank = tmp_path / "blank.img"
    blank.write_bytes(b"\0" * 65536)
    target = tmp_path / "card.img"
    res = venue("flash", str(blank), str(target), "--device-dir", str(boot_dirs["gate"]))
    assert res.code == 1 and "no partition table" in res.err
    assert not target.exists()


def test_dry_run_writes_nothing(tmp_path: Path, image: tuple[Path, bytes],
                                boot_dirs: dict[str, Path]) -> None:
    raw, _ = image
    src = compress(raw, "xz")
    target = tmp_path / "card.img"
    res = venue("flash", str(src), str(target), "--device-dir", str(boot_dirs["gate"]),
                "--dry-run")
    assert res.code == 0, res.err
    assert "user-data" in res.out and "dry run: nothing written" in res.out
    # the device's inventory folder works as well as its boot/ folder
    res = venue("flash", str(src), str(target), "--device-dir", str(boot_dirs["gate"].parent),
                "--dry-run")
    assert res.code == 0 and "+ user-data" in res.out
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_one_line_status_2(tmp_path: Path, image: tuple[Path, bytes]) -> None:
    raw, _ = image
    res = venue("flash", str(tmp_path / "none.img.xz"), str(tmp_path / "t.img"))
    assert res.code == 2 and "image not found" in res.err
    res = venue("flash", str(raw), str(tmp_path / "t.img"), "--device-dir", str(tmp_path))
    assert res.code == 2 and "not a first-boot folder" in res.err
    fake = tmp_path / "fake.img.xz"
    fake.write_bytes(b"not xz at all")
    res = venue("flash", str(fake), str(tmp_path / "t.img"))
    assert res.code == 2 and "not xz-compressed" in res.err
    res = venue("flash", str(raw), str(raw))
    assert res.code == 2 and "the image itself" in res.err
    res = venue("flash", str(raw), "/dev/venue-no-such-card")
    assert res.code == 2 and "no such block device" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_system_disk_is_refused_before_anything_is_opened(
    image: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    view = SystemView.current()
    root = [src for src, mnt in view.mounts() if mnt == "/"]
    if not root or not view.is_block(Path("/dev") / root[0]):
        pytest.skip("/ is not on a block device here (container overlay)")
    disk = view.disk_of(root[0])
    assert disk is not None

    def forbidden(*args: object) -> int:
        raise AssertionError("the system disk was opened for writing")

    monkeypatch.setattr(flash_mod, "_open_target", forbidden)
    res = venue("flash", str(image[0]), f"/dev/{disk}", "--yes")
    assert res.code == 2
    assert "system disk" in res.err


def _fake_sys(tmp_path: Path) -> Path:
    sysb = tmp_path / "sys" / "block"
    for part in ("sdz/sdz1", "sdz/sdz2", "sdy/sdy1", "vda"):
        (sysb / part).mkdir(parents=True, exist_ok=True)
        if "/" in part:
            (sysb / part / "partition").write_text("1\n")
    (sysb / "sdy" / "sdy1" / "holders" / "dm-0").mkdir(parents=True)
    (sysb / "dm-0" / "slaves" / "sdy1").mkdir(parents=True)
    (sysb / "sdx").mkdir()
    (sysb / "loop0" / "loop").mkdir(parents=True)
    (sysb / "loop0" / "loop" / "backing_file").write_text(str(tmp_path / "attached.img") + "\n")
    return sysb


def test_mounted_partitioned_and_stacked_disks_are_refused(tmp_path: Path) -> None:
    sysb = _fake_sys(tmp_path)
    view = SystemView(
        mounts_text=(
            "/dev/vda / ext4 rw 0 0\n"
            "/dev/sdz2 /media/tech/rootfs ext4 rw 0 0\n"
            "/dev/dm-0 /srv/data ext4 rw 0 0\n"
        ),
        swaps_text="Filename Type Size Used Priority\n",
        sys_block=sysb,
        is_block=lambda p: str(p).startswith("/dev/"),
    )
    img = tmp_path / "x.img"
    img.write_bytes(b"")

    def refused(target: str) -> str:
        with pytest.raises(FlashError) as exc:
            check_target(Path(target), img, view)
        return str(exc.value)

    assert "system disk" in refused("/dev/vda")
    assert "mounted at /media/tech/rootfs" in refused("/dev/sdz")
    assert "partition of /dev/sdz" in refused("/dev/sdz1")
    assert "/dev/dm-0 is mounted at /srv/data" in refused("/dev/sdy")  # LVM/crypt on top
    assert "attached to /dev/loop0" in refused(str(tmp_path / "attached.img"))
    assert check_target(Path("/dev/sdx"), img, view).is_block  # an idle card is fine
    # a Pi mounts / from "/dev/root", no real node: the device found by stat("/") counts
    pi = SystemView("/dev/root / ext4 rw 0 0\n", "", sysb, view.is_block,
                    system_devices=frozenset({"sdz2"}))
    with pytest.raises(FlashError, match="system disk"):
        check_target(Path("/dev/sdz"), img, pi)
    swapping = SystemView("", "Filename Type\n/dev/sdx1 partition 1 0 -2\n", sysb,
                          view.is_block)
    (sysb / "sdx" / "sdx1").mkdir()
    (sysb / "sdx" / "sdx1" / "partition").write_text("1\n")
    with pytest.raises(FlashError, match=r"\[swap\]"):
        check_target(Path("/dev/sdx"), img, swapping)


def test_plain_progress_shows_bytes_rate_and_eta() -> None:
    import io

    clock = FakeClock()
    stream = io.StringIO()
    p = PlainProgress(stream, clock=clock)
    p.start(total=1000, label="writing card")
    clock.advance(2.0)
    p.update(written=8 * 1024 * 1024, consumed=250)
    clock.advance(0.1)
    p.update(written=9 * 1024 * 1024, consumed=260)  # within 0.5 s: not redrawn
    assert p.lines == ["writing card: 8.0 MiB written, 4.0 MiB/s, ETA 0:00:06 (25%)"]


def test_mtools_missing_is_a_clear_error(tmp_path: Path, image: tuple[Path, bytes],
                                         monkeypatch: pytest.MonkeyPatch,
                                         boot_dirs: dict[str, Path]) -> None:
    need("mcopy")
    monkeypatch.setattr(flash_mod.shutil, "which", lambda name: None)
    target = tmp_path / "card.img"
    res = venue("flash", str(image[0]), str(target), "--device-dir", str(boot_dirs["gate"]),
                "--quiet")
    assert res.code == 1 and "install mtools" in res.err
    assert not target.exists()


def test_gpt_image_boot_partition_is_found(tmp_path: Path, boot_dirs: dict[str, Path]) -> None:
    raw = tmp_path / "gpt.img"
    original = build_image(raw, label="gpt")
    part = boot_partition(raw)
    assert (part.index, part.offset) == (1, BOOT_OFFSET)
    target = tmp_path / "card.img"
    res = venue("flash", str(compress(raw, "gz")), str(target), "--device-dir",
                str(boot_dirs["beacon"]), "--quiet")
    assert res.code == 0, res.err
    written = target.read_bytes()
    assert written[BOOT_END:] == original[BOOT_END:]
    user_data = (boot_dirs["beacon"] / "user-data").read_bytes()
    assert mtype(target, BOOT_OFFSET, "user-data") == user_data


def test_published_image_hash_is_checked_before_writing(tmp_path: Path,
                                                        image: tuple[Path, bytes]) -> None:
    raw, original = image
    src = tmp_path / "raspios.img.gz"
    src.write_bytes(compress(raw, "gz").read_bytes())
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    target = tmp_path / "card.img"
    res = venue("flash", str(src), str(target), "--sha256", "0" * 64, "--quiet")
    assert res.code == 2 and "corrupt or wrong download" in res.err
    assert not target.exists()
    # Raspberry Pi's IMAGE.sha256 beside the download is picked up by itself
    src.with_name(src.name + ".sha256").write_text(f"{good}  {src.name}\n")
    res = venue("flash", str(src), str(target), "--quiet")
    assert res.code == 0 and "matches" in res.out and target.read_bytes() == original
    src.with_name(src.name + ".sha256").write_text(f"{'f' * 64}  {src.name}\n")
    res = venue("flash", str(src), str(tmp_path / "other.img"), "--quiet")
    assert res.code == 2 and src.name + ".sha256" in res.err
