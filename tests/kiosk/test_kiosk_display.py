"""The display settings a kiosk applies itself (Raspberry Pi section of docs/kiosk.md), read back
from Kivy's effective config, and a portrait (90°) kiosk driven by real X pointer clicks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_kiosk_ui import REPO, run_under_xvfb

from kiosk.config import DisplaySection
from kiosk.platform import effective_rotation

HERE = Path(__file__).resolve().parent

READ_CONFIG = """
import json, os, sys
from kiosk.config import DisplaySection
from kiosk.platform import apply_kivy_config, prepare_environment
display = DisplaySection(**json.loads(sys.argv[1]))
prepare_environment(display)
apply_kivy_config(display)
from kivy.config import Config
print(json.dumps({
    "exit_on_escape": Config.get("kivy", "exit_on_escape"),
    "show_cursor": Config.get("graphics", "show_cursor"),
    "fullscreen": Config.get("graphics", "fullscreen"),
    "rotation": Config.get("graphics", "rotation"),
    "input": {k: Config.get("input", k) for k in Config.options("input")},
    "screensaver": os.environ.get("SDL_VIDEO_ALLOW_SCREENSAVER"),
}))
"""


def effective_config(tmp_path: Path, env: dict[str, str] | None = None,
                     **display: object) -> dict[str, object]:
    """Kivy's config after the kiosk applied ``display``, in a fresh process (Kivy's config is
    global and read once), with a Kivy home of its own whose stock config has a touch provider."""
    home = tmp_path / "kivy-home"
    full_env = {"PATH": "/usr/bin:/bin", "KIVY_HOME": str(home), "KIVY_NO_CONSOLELOG": "1",
                "KIVY_NO_ARGS": "1", "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-c", READ_CONFIG, json.dumps(display)],
                          env=full_env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def rotated_artifacts() -> Path:
    """The portrait screenshots, kept for review next to the UI test's (``artifacts/``)."""
    base = Path(os.environ.get("VENUE_TEST_ARTIFACTS", REPO / "artifacts"))
    out = base / "kiosk-rotated"
    if out.exists():
        shutil.rmtree(out)
    return out


def test_the_app_applies_the_pi_settings_to_kivys_config(tmp_path: Path) -> None:
    cfg = effective_config(tmp_path)
    assert cfg["exit_on_escape"] == "0"  # a passer-by's keyboard cannot close the app
    assert cfg["show_cursor"] == "0"
    assert cfg["fullscreen"] == "auto"
    assert cfg["rotation"] == "0"
    # exactly one provider reads the touch screen: no probesysfs (mtdev/hidinput) beside SDL
    assert cfg["input"] == {"mouse": "mouse,disable_multitouch"}
    assert cfg["screensaver"] == "0"


def test_rotation_from_config_or_from_the_firmware_drop_in(tmp_path: Path) -> None:
    assert effective_config(tmp_path, rotation=270)["rotation"] == "270"
    # firmware_config writes KCFG_GRAPHICS_ROTATION into the unit: honoured when the config
    # leaves rotation at 0, instead of being overwritten by it
    assert effective_config(tmp_path, {"KCFG_GRAPHICS_ROTATION": "90"})["rotation"] == "90"
    assert effective_config(tmp_path, {"KCFG_GRAPHICS_ROTATION": "90"},
                            rotation=180)["rotation"] == "180"
    assert effective_config(tmp_path, touch_provider="mtdev")["input"] == {
        "touch": "probesysfs,provider=mtdev"}
    assert effective_rotation(DisplaySection(), {"KCFG_GRAPHICS_ROTATION": "45"}) == 0
    assert effective_rotation(DisplaySection(), {"KCFG_GRAPHICS_ROTATION": "x"}) == 0


def test_a_portrait_kiosk_lays_out_tall_and_real_clicks_land_on_the_buttons(
    tmp_path: Path,
) -> None:
    out = rotated_artifacts()
    proc = run_under_xvfb(HERE / "kiosk_rotation_driver.py", str(out), "90",
                          kivy_home=tmp_path / "kivy")
    error = (out / "error.txt").read_text() if (out / "error.txt").exists() else ""
    assert proc.returncode == 0, f"driver failed:\n{error}\n{proc.stderr[-3000:]}"
    r = json.loads((out / "result.json").read_text(encoding="utf-8"))
    # the panel is 1280x800; the kiosk's content is 800 wide and 1280 tall
    assert r["window"]["system_size"] == [1280, 800]
    assert r["window"]["size"] == [800, 1280] and r["root"] == [800, 1280]
    assert r["portrait"] is True  # the screens stack their halves (see the *-rotated-90.png)
    assert r["window"]["rotation"] == 90 and r["window"]["show_cursor"] is False
    assert r["config"]["exit_on_escape"] == "0" and r["config"]["rotation"] == "90"
    assert r["providers"] == ["MouseMotionEventProvider", "SDL2MotionEventProvider"]
    # every click was made where the button is drawn on the panel...
    assert all(t["drawn_there"] for t in r["taps"]), [t for t in r["taps"]
                                                      if not t["drawn_there"]]
    # ...and landed on it, once: one digit per click on the keypad (no double events)
    assert r["digits_after_each_tap"] == list(range(1, 11))
    assert r["code"] == "SPRING-1007"
    assert r["screen"] == "prize" and r["prize"] == "Free latte"

