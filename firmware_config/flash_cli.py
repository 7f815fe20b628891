"""``venue flash IMAGE TARGET --device-dir DIR``: write a card (or image file) for one device.

Everything that can be refused is refused before the first byte is written; a block device is
written only after the technician confirms (``--yes`` for scripts).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from firmware_config.errors import FlashError
from firmware_config.flash import check_image_hash, flash, plan, published_sha256
from firmware_config.progress import NoProgress, make_progress

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``venue flash``."""
    parser.add_argument("image", help="OS image: .img, .img.xz or .img.gz")
    parser.add_argument("target", help="SD card block device (/dev/sdX) or an image file")
    parser.add_argument("--device-dir", metavar="DIR",
                        help="first-boot files from `venue provision`: inventory/devices/ID[/boot]")
    parser.add_argument("--sha256", metavar="HEX|FILE",
                        help="the image's published SHA-256 (default: IMAGE.sha256 if present)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be done")
    parser.add_argument("--yes", action="store_true", help="do not ask before writing a card")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, *, out: TextIO | None = None,
        confirm_in: TextIO | None = None) -> int:
    """Entry point of ``venue flash``."""
    out = out or sys.stdout
    try:
        fp = plan(Path(args.image), Path(args.target),
                  Path(args.device_dir) if args.device_dir else None)
        published = published_sha256(fp.image, args.sha256)
        if published and not args.dry_run:
            check_image_hash(fp.image, *published)
            print(f"image SHA-256 matches {published[1]}", file=out)
    except FlashError as exc:
        print(f"venue flash: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. an image we may not read
        print(f"venue flash: {exc.filename or args.image}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        for line in fp.describe():
            print(line, file=out)
        if published:
            print(f"check   image SHA-256 against {published[1]}", file=out)
        print("dry run: nothing written", file=out)
        return 0
    if fp.target.is_block and not args.yes:
        stdin = confirm_in or sys.stdin
        if not stdin.isatty() and confirm_in is None:
            print(f"venue flash: {fp.target.path} is a disk: pass --yes to write it "
                  "without a terminal", file=sys.stderr)
            return EXIT_USAGE
        print(f"Everything on {fp.target.path} will be erased. Type its name to go on: ",
              end="", file=out, flush=True)
        if stdin.readline().strip() not in (str(fp.target.path), fp.target.path.name):
            print("venue flash: not confirmed; nothing written", file=sys.stderr)
            return EXIT_USAGE
    progress = NoProgress() if args.quiet else make_progress()
    result = flash(fp, progress=progress)
    print(f"wrote {result.written} bytes to {fp.target.path}, SHA-256 {result.sha256} "
          "verified by reading back", file=out)
    if result.boot is not None:
        print(f"boot partition {result.boot.index} (offset {result.boot.offset}): "
              f"{', '.join(result.copied)}", file=out)
    return 0
