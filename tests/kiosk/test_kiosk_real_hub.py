"""The kiosk's real window (Xvfb) against the real hub: ``venue hub`` in its own process.

The hub is seeded over its API (business, visit rule, rewards on a coupon series, catalog), the
customer registered, and a ``kiosk`` token made; the UI driver then taps through both flows
(identify → visit credit → rewards → redeem, identify → shop → cart → submit) and the register
finds the kiosk's order in its queue.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "loyalty"))

from loyaltykit import HubProcess, ok, register, seed  # noqa: E402
from test_kiosk_ui import CLEAR_PHONE, run_under_xvfb  # noqa: E402


@pytest.fixture
def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = HubProcess(f"sqlite:///{tmp_path / 'hub.sqlite3'}", str(tmp_path / "hubdata"))
    try:
        yield proc.wait_ready()
    finally:
        proc.stop()


def test_kiosk_window_against_the_real_hub(hub: HubProcess, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        s = seed(c, visit_points=60, cost=50, per_amount="0.1")
        register(c, s)
        ids = {"reward": s.reward, "category": s.category, "items": [s.latte, s.latte, s.cake]}
        out = tmp_path / "out"
        # run_under_xvfb hands the environment on to the driver
        monkeypatch.setenv("KIOSK_DRIVER_HUB_URL", hub.url)
        monkeypatch.setenv("KIOSK_DRIVER_HUB_TOKEN", s.kiosk_h["Authorization"].split()[1])
        monkeypatch.setenv("KIOSK_DRIVER_IDS", json.dumps(ids))
        proc = run_under_xvfb(HERE / "kiosk_ui_driver.py", str(out), kivy_home=tmp_path / "kivy")
        assert proc.returncode == 0, f"driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        assert result["flows"] == ["rewards", "shop"]
        assert result["rewards_masked"] == "+380 •• ••• •• 67"
        assert result["rewards_notes"] == ["+60 points for your visit!"]
        assert result["shop_notes"][0].startswith("Your visit was already rewarded")
        assert result["coupon"] and result["balance_after"] == 10
        assert result["order_total"] == "159.90"
        queue = ok(c.get(f"/api/v1/register/checks?business={s.business}",
                         headers=s.register_h))
        assert [q["number"] for q in queue] == [result["order_number"]]
        assert queue[0]["total"] == "159.90"
    log = (out / "kiosk.log").read_text(encoding="utf-8")
    assert not CLEAR_PHONE.search(log) and not CLEAR_PHONE.search(hub.log())
