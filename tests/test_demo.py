"""`venue demo --headless`: the whole venue comes up, visitors are admitted, every device online.

The demo's broker is a venue's: per-device logins and ACLs, no anonymous clients. The monitor
gets in with the operator login the demo writes (``monitor.toml``), and is found with no
arguments from the folder the demo runs in. What the banner offers to try works with the tokens
it prints: the lottery and promotions the kiosk lists, the dashboard and steward pages, the demo
customer's wallet link, an outlet's sale, and the mails the hub sent to the demo's mailbox.
Every example config loads with its role's config class.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from beacon.config import BeaconConfig
from gate.config import GateConfig
from hub.config import HubConfig
from kiosk.config import KioskConfig
from venue.config import BaseConfig, load_config
from venue.demo_seed import DEMO_PHONE, seed_extras

REPO = Path(__file__).resolve().parents[1]


def venue(*args: str) -> list[str]:
    return [sys.executable, "-m", "venue.cli", *args]


@pytest.mark.slow
def test_demo_comes_up_and_admits(tmp_path: Path) -> None:
    data = tmp_path / "var" / "demo"  # where `venue monitor` looks, from tmp_path
    proc = subprocess.Popen(
        venue("demo", "--headless", "--data-dir", str(data), "--visitors-per-minute", "240"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        snap: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            if (data / "monitor.toml").exists() and (data / "seed.json").exists():
                out = subprocess.run(
                    venue("monitor", "--once", "--json", "--wait", "1"),
                    capture_output=True, text=True, timeout=30, cwd=tmp_path,
                )
                if out.returncode == 0:
                    snap = json.loads(out.stdout)
                    gates = [d for d in snap["devices"] if d["role"] == "gate"]
                    if len(gates) == 2 and all(g["admits"] > 0 for g in gates):
                        break
            time.sleep(1)
        devices = {d["device"]: d for d in snap.get("devices", [])}
        names = ("hub", "gate-1", "gate-2", "beacon-1")
        assert set(names) <= set(devices), snap
        assert all(devices[n]["state"] == "online" for n in names)
        assert devices["gate-1"]["admits"] > 0 and devices["gate-2"]["admits"] > 0
        # `venue cmd` also finds the demo and its operator login by itself.
        cmd = subprocess.run(venue("cmd", "gate-1", "ping"), capture_output=True, text=True,
                             timeout=30, cwd=tmp_path)
        assert cmd.returncode == 0, cmd.stdout + cmd.stderr
        assert json.loads(cmd.stdout)["ok"] is True
        # Without the operator login the broker refuses the monitor.
        url = (data / "broker.url").read_text().strip()
        anon = subprocess.run(venue("monitor", "--mqtt", url, "--once", "--wait", "0"),
                              capture_output=True, text=True, timeout=30)
        assert anon.returncode == 1, anon.stdout + anon.stderr
        # The hub stored the devices' events (its login may read every device of the site).
        db = sqlite3.connect(data / "hub.sqlite")
        try:
            stored = db.execute("SELECT COUNT(*) FROM events WHERE type = 'gate.scan'").fetchone()
        finally:
            db.close()
        assert stored[0] > 0
        # Visitors were rewarded at the kiosk's counter: points in the loyalty ledger.
        db = sqlite3.connect(data / "hub.sqlite")
        try:
            rows = db.execute("SELECT COUNT(*) FROM loyalty_ledger").fetchone()
        finally:
            db.close()
        assert rows[0] > 0
        check_what_the_banner_offers(data)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0
    banner = proc.stdout.read() if proc.stdout else ""
    session = json.loads((data / "demo.json").read_text())
    for line in (session["dashboard"], session["operator_token"], session["steward"],
                 session["validator_token"], session["wallet_url"], session["outlet_token"],
                 str(data / "mail")):
        assert line in banner, (line, banner)
    assert DEMO_PHONE not in banner and DEMO_PHONE[4:] not in banner
    # The data stays for the next run, and the next run reuses the seed.
    seed = json.loads((data / "seed.json").read_text())
    assert len(seed["codes"]) == 500
    assert (data / "hub.sqlite").exists()


def check_what_the_banner_offers(data: Path) -> None:
    """Each "try it" line of the banner, done with the token it names, against the live demo."""
    session = json.loads((data / "demo.json").read_text())
    extras = json.loads((data / "seed-extras.json").read_text())
    loyalty = json.loads((data / "seed-loyalty.json").read_text())
    hub = session["hub"]

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    kiosk = auth(loyalty["kiosk_token"])
    shown = {"business": loyalty["businesses"]}
    lotteries = requests.get(f"{hub}/api/v1/lotteries", params=shown, headers=kiosk, timeout=10)
    assert lotteries.status_code == 200
    assert [x["name"] for x in lotteries.json()["lotteries"]] == ["Spring draw"]
    promos = requests.get(f"{hub}/api/v1/promotions", params=shown, headers=kiosk, timeout=10)
    assert promos.status_code == 200
    (promo,) = promos.json()["promotions"]
    assert promo["title"] == "Happy hour" and promo["coupon"]["cost"] == 0
    assert promo["image"] and requests.get(hub + promo["image"], headers=kiosk,
                                                timeout=10).content[:4] == b"\x89PNG"
    # The pages answer; the printed tokens have the roles the pages ask for.
    for page in (session["dashboard"], session["steward"]):
        assert requests.get(page, timeout=10).status_code == 200
    whoami: dict[str, Any] = {}
    for name, role in (("operator_token", "operator"), ("validator_token", "validator"),
                       ("outlet_token", "outlet")):
        whoami = requests.get(f"{hub}/api/v1/ops/whoami", headers=auth(session[name]),
                              timeout=10).json()
        assert whoami["role"] == role, whoami
    check = requests.post(f"{hub}/api/v1/redemptions", headers=auth(session["validator_token"]),
                          timeout=10, json={"code": extras["steward_codes"][0],
                                            "gate": "steward-1", "mode": "check",
                                            "nonce": uuid.uuid4().hex})
    assert check.status_code == 200 and check.json()["result"] == "admit", check.text
    # The wallet link opens the demo customer's page: prepaid, the pass, the promotion.
    wallet = requests.get(session["wallet_url"], timeout=10)
    assert wallet.status_code == 200
    assert "200.00" in wallet.text and "5-visit pass" in wallet.text and "Happy hour" in wallet.text
    assert DEMO_PHONE not in wallet.text and extras["customer"]["masked_phone"] in wallet.text
    # The outlet sells a concert ticket within its quota.
    sale = requests.post(f"{hub}/api/v1/outlet/sales", headers=auth(session["outlet_token"]),
                         timeout=10, json={"series": extras["concert"], "qty": 1,
                                           "idempotency_key": "test-demo-1"})
    assert sale.status_code == 201 and len(sale.json()["codes"]) == 1, sale.text
    # A printed lottery code plays once.
    code = session["lottery_codes"][0]
    customer = extras["customer"]["id"]
    play = requests.post(f"{hub}/api/v1/lotteries/play", headers=kiosk, timeout=10,
                         json={"customer": customer, "code": code, "idempotency_key": "t-1"})
    assert play.status_code == 201 and play.json()["prize"]["name"] in ("Free latte", "Try again")
    again = requests.post(f"{hub}/api/v1/lotteries/play", headers=kiosk, timeout=10,
                          json={"customer": customer, "code": code, "idempotency_key": "t-2"})
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_played"
    # Seeding again (a later run) makes nothing new.
    seeded = json.loads((data / "seed.json").read_text())
    assert seed_extras(data, hub, seeded, loyalty)["lottery"] == extras["lottery"]
    lotteries = requests.get(f"{hub}/api/v1/lotteries", params=shown, headers=kiosk, timeout=10)
    assert len(lotteries.json()["lotteries"]) == 1
    # The hub mailed the wallet link and the VIP campaign's coupon (QR attached) to the mailbox.
    deadline = time.monotonic() + 30
    mails: list[str] = []
    while time.monotonic() < deadline and len(mails) < 2:
        mails = [p.read_text(errors="replace") for p in sorted((data / "mail").glob("*.eml"))]
        time.sleep(0.5)
    assert any("Subject: Your wallet" in m and session["wallet_url"][-20:] in
               m.replace("=\n", "") for m in mails), mails
    assert any("VIP welcome drink" in m and "image/png" in m for m in mails), mails
    assert not any(DEMO_PHONE in m for m in mails)
    admin = auth((data / "admin.token").read_text().strip())
    sent: list[dict[str, Any]] = []
    while time.monotonic() < deadline + 10 and len(sent) < 2:  # marked sent after the SMTP "ok"
        sent = requests.get(f"{hub}/api/v1/notifications", params={"status": "sent"},
                            headers=admin, timeout=10).json()
        time.sleep(0.2)
    assert {n["kind"] for n in sent} >= {"wallet_link", "coupon"} and all(
        n["channel"] == "email" and "demo.customer@" not in n["recipient"] for n in sent), sent


@pytest.mark.parametrize("name, cls", [("hub", HubConfig), ("gate", GateConfig),
                                       ("kiosk", KioskConfig), ("beacon", BeaconConfig)])
def test_every_example_config_loads(name: str, cls: type[BaseConfig]) -> None:
    assert sorted(p.stem for p in (REPO / "examples").glob("*.toml")) == [
        "beacon", "gate", "hub", "kiosk"]
    cfg = load_config(cls, REPO / "examples" / f"{name}.toml", env={})
    assert cfg.device.id
    if isinstance(cfg, KioskConfig):
        assert cfg.kiosk.media_max_mb == 32.0
