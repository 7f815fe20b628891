"""A real Kivy window under Xvfb, driven by synthetic touches through both customer flows.

The window runs in a subprocess under ``xvfb-run`` (its own X server, so tests need no DISPLAY),
against the demo data source with the app's real worker thread and a real Mosquitto. The same
driver against the real hub process is test_kiosk_real_hub.py.

Screenshots of every screen are kept in ``artifacts/kiosk/`` (or ``$VENUE_TEST_ARTIFACTS/kiosk``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_mqtt import Collector

from venue.messages import Event

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
XVFB = shutil.which("xvfb-run")
CLEAR_PHONE = re.compile(r"0?67\s*-?123\s*-?45\s*-?67|671234567")


def artifacts_dir() -> Path:
    base = Path(os.environ.get("VENUE_TEST_ARTIFACTS", REPO / "artifacts"))
    out = base / "kiosk"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


def pixel_stddev(path: Path) -> float:
    from PIL import Image, ImageStat

    with Image.open(path) as img:
        assert img.mode in ("RGB", "RGBA")
        if img.mode == "RGBA":
            alpha = img.getchannel("A").getextrema()
            assert alpha == (255, 255), f"{path.name} has transparent pixels"
        return float(max(ImageStat.Stat(img.convert("RGB")).stddev))


def run_under_xvfb(script: Path, *args: str, kivy_home: Path,
                   timeout: float = 120) -> subprocess.CompletedProcess:
    if XVFB is None:
        pytest.skip("xvfb-run is not installed (apt-get install xvfb xauth): no Kivy window tests")
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_HOME": str(kivy_home),
           "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    env.pop("DISPLAY", None)
    return subprocess.run(
        [XVFB, "-a", "-s", "-screen 0 1280x800x24 +extension GLX", sys.executable, str(script),
         *args],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
    )


def test_touch_flows_rewards_and_shop_on_a_real_window(broker) -> None:  # type: ignore[no-untyped-def]
    out = artifacts_dir()
    collector = Collector(broker.port, "venue/v1/test/kiosk/#")
    collector.wait_subscribed()
    try:
        proc = run_under_xvfb(HERE / "kiosk_ui_driver.py", str(out), broker.url,
                              kivy_home=broker.workdir / "kivy")
        assert proc.returncode == 0, f"driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        events = [Event.decode(m.payload) for m in collector.all() if "/event/" in m.topic]
    finally:
        collector.close()

    assert result["flows"] == ["rewards", "shop"]
    # identify: the keypad display is masked, home greets with the masked number
    assert result["rewards_display"] == "••• ••• ••67"
    assert result["rewards_masked"] == "+380 •• ••• •• 67"
    assert result["rewards_notes"] == ["+10 points for your visit!"]
    assert result["shop_notes"][0].startswith("Your visit was already rewarded")
    # rewards: espresso for 50 of 130 points
    assert result["coupon"] and result["balance_after"] == 80
    # shop: 2 lattes + 1 espresso
    assert result["order_number"] == "A-017" and result["order_total"] == "175.00"
    assert "175.00" in result["cart_total_text"]
    assert result["drained"] is True

    shots = sorted(out.glob("*.png"))
    assert {s.stem for s in shots} >= {
        "rewards-identify", "rewards-home", "rewards-catalog", "rewards-confirm",
        "rewards-coupon", "rewards-done", "shop-identify", "shop-home", "shop-categories",
        "shop-items", "shop-cart", "shop-order",
    }
    for s in shots:
        assert pixel_stddev(s) > 8.0, f"{s.name} looks blank"

    log = (out / "kiosk.log").read_text(encoding="utf-8")
    assert "kiosk" in log  # the log was written...
    assert not CLEAR_PHONE.search(log), "a clear phone number reached the log"  # ...without one

    kinds = [e.type for e in events]
    assert kinds.count("kiosk.checkin") == 2 and kinds.count("kiosk.order") == 1
    checkins = [e.data for e in events if e.type == "kiosk.checkin"]
    assert checkins[0] == {"customer": "c_demo0001", "business": 1, "credited": True,
                           "reason": "ok", "offline": False}
    assert checkins[1]["credited"] is False and checkins[1]["reason"] == "cooldown"
    order = next(e.data for e in events if e.type == "kiosk.order")
    assert order == {"check": 17, "number": "A-017", "total": "175.00", "currency": "UAH",
                     "lines": 2}
    wire = b"".join(m.payload for m in collector.all())
    assert not CLEAR_PHONE.search(wire.decode("utf-8", "replace"))


def test_screenshot_tour_writes_every_screen_in_both_languages(tmp_path: Path) -> None:
    out = tmp_path / "tour"
    script = tmp_path / "tour.py"
    script.write_text(
        "import sys\nfrom venue.cli import main\n"
        f"sys.exit(main(['kiosk', '--screenshot-tour', {str(out)!r}]))\n"
    )
    proc = run_under_xvfb(script, kivy_home=tmp_path / "kivy")
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {p.name for p in out.glob("*.png")}
    for screen in ("attract", "identify", "consent", "home", "rewards", "confirm", "coupon",
                   "shop", "items", "cart", "order", "done", "home-offline", "pin",
                   "maintenance", "scan", "coupon-claimed", "lottery", "lottery-played",
                   "prize", "prize-none"):
        for lang in ("en", "uk"):
            assert f"{screen}-{lang}.png" in names
    for name in ("home-en.png", "identify-uk.png", "order-uk.png", "prize-uk.png",
                 "lottery-en.png"):
        assert pixel_stddev(out / name) > 8.0
    for name in ("lottery", "prize-none", "lottery-played"):
        assert (out / f"{name}-en.png").read_bytes() != (out / f"{name}-uk.png").read_bytes()
    # the languages differ where there is text to translate
    assert (out / "attract-en.png").read_bytes() != (out / "attract-uk.png").read_bytes()
