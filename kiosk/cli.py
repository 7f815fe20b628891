"""``venue kiosk``: run the touch kiosk, or render its screens for review.

* ``venue kiosk --config kiosk.toml`` runs the app full screen until it is stopped.
* ``venue kiosk --demo`` uses the built-in demo data instead of the hub (also: ``hub_url =
  "demo:"`` in the config).
* ``venue kiosk --screenshot-tour DIR`` writes every screen in every configured language to
  ``DIR/{screen}-{lang}.png`` with demo data and exits (needs a display; Xvfb will do).

Kivy is imported only here, after its settings are applied, so ``venue --help`` stays fast and
works on machines without Kivy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from kiosk.config import KioskConfig
from venue.config import load_config
from venue.runtime import setup_logging


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--screenshot-tour", metavar="DIR",
                        help="render every screen in every language to DIR/{screen}-{lang}.png")
    parser.add_argument("--demo", action="store_true",
                        help="use the built-in demo data instead of the hub")
    parser.add_argument("--windowed", action="store_true",
                        help="a window instead of full screen (development)")


def run(args: argparse.Namespace) -> int:
    overrides = {"log.level": args.log_level} if getattr(args, "log_level", None) else None
    cfg = load_config(KioskConfig, getattr(args, "config", None), overrides=overrides)
    setup_logging(cfg.log.level, cfg.log.format)
    tour = getattr(args, "screenshot_tour", None)
    if getattr(args, "demo", False) or tour:
        cfg = replace(cfg, kiosk=replace(cfg.kiosk, hub_url="demo:"))
    if getattr(args, "windowed", False) or tour:
        cfg = replace(cfg, kiosk=replace(
            cfg.kiosk, display=replace(cfg.kiosk.display, fullscreen=False, rotation=0)))
    _prepare_kivy(cfg)
    if tour:
        from kiosk.tour import run_tour

        written = run_tour(cfg, Path(tour))
        print(f"wrote {len(written)} screenshots to {tour}")
        return 0
    from kiosk.app import run_kiosk

    return run_kiosk(cfg, getattr(args, "config", None))


def _prepare_kivy(cfg: KioskConfig) -> None:
    from kiosk.platform import apply_kivy_config, prepare_environment

    prepare_environment(cfg.kiosk.display)
    if "KIVY_HOME" not in os.environ:
        # Kivy writes its config.ini there; keep it with the kiosk's data, not in $HOME.
        home = Path(cfg.device.data_dir) / "kivy"
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError:
            home = Path(tempfile.mkdtemp(prefix="kivy-"))
        os.environ["KIVY_HOME"] = str(home)
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    apply_kivy_config(cfg.kiosk.display)


if __name__ == "__main__":  # pragma: no cover
    from venue.cli import main

    sys.exit(main(["kiosk", *sys.argv[1:]]))
