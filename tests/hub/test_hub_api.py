"""The HTTP API: roles (401/403), validation (422 naming the field), series, codes, replica."""

from __future__ import annotations

import base64
import importlib.util
import subprocess
import sys
import uuid
from typing import Any

import pytest
from hubkit import ADMIN_H, token

from hub.db import Database
from venue import codes
from venue.clock import FakeClock


def make_series(client: Any, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/series", json={"name": "Concert", **body}, headers=ADMIN_H)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def redeem(client: Any, code: str, headers: dict[str, str], gate: str = "g1",
           **kw: Any) -> dict[str, Any]:
    body = {"code": code, "gate": gate, "nonce": str(uuid.uuid4()), **kw}
    r = client.post("/api/v1/redemptions", json=body, headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_no_token_is_401_and_wrong_role_is_403(db: Database, clock: FakeClock, client: Any) -> None:
    body = {"code": "X", "gate": "g1", "nonce": "n1"}
    r = client.post("/api/v1/redemptions", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.post("/api/v1/redemptions", json=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = client.post("/api/v1/redemptions", json=body, headers={"Authorization": "Basic eDp5"})
    assert r.status_code == 401
    kiosk = token(db, clock, "kiosk", "k1")
    assert client.post("/api/v1/redemptions", json=body, headers=kiosk).status_code == 403
    gate = token(db, clock, "gate", "g1")
    assert client.post("/api/v1/series", json={"name": "x"}, headers=gate).status_code == 403
    assert client.post("/api/v1/tokens", json={"role": "admin", "device": "x"},
                       headers=gate).status_code == 403
    # A gate may only speak for itself.
    r = client.post("/api/v1/redemptions", json={**body, "gate": "g2"}, headers=gate)
    assert r.status_code == 403
    assert client.get("/api/v1/gates/g2/replica", headers=gate).status_code == 403
    assert client.get("/api/v1/gates/g1/replica", headers=gate).status_code == 200
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gate": "g1", "nonce": "n"}, "code"),
        ({"code": "x", "gate": "g 1", "nonce": "n"}, "gate"),
        ({"code": "x", "gate": "g1", "nonce": "n", "direction": "up"}, "direction"),
        ({"code": "x", "gate": "g1", "nonce": "n", "scanned_at": "yesterday"}, "scanned_at"),
        ({"code": "x", "gate": "g1", "nonce": "n", "scanned_at": "2026-01-01T10:00:00"},
         "scanned_at"),
        ({"code": "x", "gate": "g1", "nonce": "n", "mode": "maybe"}, "mode"),
        ({"code": "x", "gate": "g1", "nonce": "", "mode": "check"}, "nonce"),
        ({"code": "x" * 600, "gate": "g1", "nonce": "n"}, "code"),
        ({"code": "x", "gate": "g1", "nonce": "n", "extra": 1}, "extra"),
    ],
)
def test_malformed_redemption_is_422_naming_the_field(
    client: Any, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/v1/redemptions", json=body, headers=ADMIN_H)
    assert r.status_code == 422, r.text
    assert any(err["loc"][-1] == field for err in r.json()["detail"]), r.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a", "issue_limit": 0}, "issue_limit"),
        ({"name": "a", "issue_limit": 2**40}, "issue_limit"),
        ({"name": "a", "kind": "voucher"}, "kind"),
        ({"name": "a", "valid_from": "2026-02-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"},
         "valid_until"),
        ({"name": "a", "valid_from": "0001-01-01T00:00:00+14:00"}, "valid_from"),
        ({"name": "a", "shared_code": "X"}, "shared_code"),
        ({"name": "a\x00b"}, "name"),
    ],
)
def test_malformed_series_is_422_naming_the_field(
    client: Any, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/v1/series", json=body, headers=ADMIN_H)
    assert r.status_code == 422, r.text
    assert any(err["loc"][-1] == field for err in r.json()["detail"]), r.json()


def test_not_json_is_422(client: Any) -> None:
    r = client.post("/api/v1/redemptions", content=b"{nope", headers={
        **ADMIN_H, "Content-Type": "application/json"})
    assert r.status_code == 422


def test_series_issue_and_code_status(db: Database, clock: FakeClock, client: Any) -> None:
    s = make_series(client, issue_limit=3, issue_count=1, code_visibility="on_redeem")
    assert s["id"] == 1 and s["issued_count"] == 1 and len(s["codes"]) == 1
    r = client.post("/api/v1/series/1/codes", json={"customers": ["c1", "c2"]}, headers=ADMIN_H)
    assert r.status_code == 201
    issued = r.json()
    assert [c["serial"] for c in issued] == [1, 2]
    assert [c["customer_id"] for c in issued] == ["c1", "c2"]
    assert issued[0]["short_serial"] == codes.short_serial(1, 1)
    r = client.post("/api/v1/series/1/codes", json={"count": 1}, headers=ADMIN_H)
    assert r.status_code == 409 and "limit 3" in r.json()["detail"]
    assert client.post("/api/v1/series/9/codes", json={"count": 1},
                       headers=ADMIN_H).status_code == 404
    steward = token(db, clock, "validator", "v1")
    code = client.get(f"/api/v1/codes/{issued[0]['short_serial']}", headers=steward).json()
    assert code["ref"] == "1:1" and code["code"] is None  # on_redeem: hidden until used
    redeem(client, issued[0]["code"], steward)
    code = client.get("/api/v1/codes/1:1", headers=steward).json()
    assert code["code"] == issued[0]["code"] and code["entries_used"] == 1
    assert [h["status"] for h in code["history"]] == ["issued", "redeemed"]
    assert [a["result"] for a in code["attempts"]] == ["admit"]
    assert client.get("/api/v1/codes/1-1-0", headers=steward).status_code == 404
    r = client.post("/api/v1/codes/1:2/revoke", json={"detail": "refund"}, headers=ADMIN_H)
    assert r.json() == {"ref": "1:2", "status": "revoked"}
    assert redeem(client, issued[1]["code"], steward)["reason"] == "revoked"
    stats = client.get("/api/v1/series/1/stats", headers=steward).json()
    assert stats["reasons"] == {"ok": 1, "revoked": 1}
    assert stats["by_gate"] == {"g1": {"admit": 1, "reject": 1}}
    assert stats["by_hour"] == [{"hour": "2026-01-01T12:00:00.000Z", "admit": 1, "reject": 1}]


def test_delivery_renders_qr_barcode_and_text(client: Any) -> None:
    s = make_series(client, issue_count=1)
    base = "/api/v1/codes/1:0/delivery"
    png = client.get(f"{base}/qr.png", headers=ADMIN_H)
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    svg = client.get(f"{base}/qr.svg", headers=ADMIN_H)
    assert b"<svg" in svg.content
    bar = client.get(f"{base}/barcode.svg", headers=ADMIN_H)
    if importlib.util.find_spec("barcode") is None:  # python-barcode not installed: said so
        assert bar.status_code == 501 and "python-barcode" in bar.json()["detail"]
    else:
        assert b"<svg" in bar.content and b"1-0-3" in bar.content  # long code: short serial
    sms = client.get(f"{base}/sms.txt", headers=ADMIN_H).text
    assert s["codes"][0]["code"] in sms and "1-0-3" in sms
    hist = client.get("/api/v1/codes/1:0", headers=ADMIN_H).json()["history"]
    assert [h["detail"] for h in hist if h["status"] == "delivered"] == [
        "qr.png", "qr.svg", "barcode.svg", "sms.txt"]


def test_tokens_over_http_and_cli(db: Database, client: Any, sqlite_url: str) -> None:
    r = client.post("/api/v1/tokens", json={"role": "gate", "device": "g5"}, headers=ADMIN_H)
    assert r.status_code == 201
    gate = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/gates/g5/replica", headers=gate).status_code == 200
    r = client.post("/api/v1/tokens", json={"role": "root", "device": "g5"}, headers=ADMIN_H)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role"]
    out = subprocess.run(
        [sys.executable, "-m", "venue.cli", "hub", "token", "create", "--role", "validator",
         "--device", "phone1", "--db", sqlite_url],
        capture_output=True, text=True, timeout=60, check=True,
    )
    cli_token = out.stdout.strip()
    assert len(cli_token) > 30
    steward = {"Authorization": f"Bearer {cli_token}"}
    assert client.get("/api/v1/series", headers=steward).status_code == 200
    assert client.post("/api/v1/tokens", json={"role": "gate", "device": "x"},
                       headers=steward).status_code == 403
    mig = subprocess.run([sys.executable, "-m", "venue.cli", "hub", "migrate", "--db", sqlite_url],
                         capture_output=True, text=True, timeout=60)
    assert mig.returncode == 0, mig.stderr


def test_replica_full_then_incremental(
    any_db: Database, clock: FakeClock, live_factory: Any
) -> None:
    import httpx

    from hub.api.app import create_app

    server = live_factory(create_app(any_db, clock=clock))
    http = httpx.Client(base_url=server.url, headers=ADMIN_H, timeout=30)
    gate = token(any_db, clock, "gate", "g1")
    s = http.post("/api/v1/series", json={"name": "A", "issue_count": 3}).json()
    http.post("/api/v1/series", json={"name": "Mag", "code_mode": "shared",
                                      "shared_code": "SUMMER24"})
    http.post("/api/v1/series", json={"name": "Imp", "code_mode": "imported"})
    r = http.post("/api/v1/series/3/import", files={"file": ("c.txt", b"AAA-1\nAAA-2\n")},
                  params={"issue_all": "true"})
    assert r.status_code == 201, r.text
    redeem(http, s["codes"][0]["code"], gate)
    http.post("/api/v1/codes/1:1/block")
    clock.advance(10)  # past the replica's overlap window
    full = http.get("/api/v1/gates/g1/replica", headers=gate).json()
    assert full["full"] is True
    assert [k["key_id"] for k in full["keys"]] == [1]
    assert len(base64.b64decode(full["keys"][0]["public_key"])) == 32
    assert [x["id"] for x in full["series"]] == [1, 2, 3]
    assert full["codes"] == [{"ref": "1:1", "status": "blocked"}]
    salt = bytes.fromhex(full["hash_salt"])
    assert sorted(i["hash"] for i in full["imported"]) == sorted(
        codes.imported_hash(salt, c) for c in ("AAA-1", "AAA-2"))
    assert full["shared"] == [{"series": 2, "code": "SUMMER24"}]
    assert [(u["ref"], u["entries"], u["first_gate"]) for u in full["used"]] == [("1:0", 1, "g1")]

    clock.advance(60)
    unchanged = http.get("/api/v1/gates/g1/replica", params={"since": full["cursor"]},
                         headers=gate).json()
    assert unchanged["full"] is False
    assert (unchanged["codes"], unchanged["imported"], unchanged["used"]) == ([], [], [])
    clock.advance(60)
    http.post("/api/v1/codes/1:2/revoke")
    http.post("/api/v1/codes/1:1/unblock")
    redeem(http, s["codes"][2]["code"], gate, direction="in")  # revoked: rejected, no use
    assert redeem(http, s["codes"][1]["code"], gate)["result"] == "admit"
    http.post("/api/v1/keys/rotate")
    inc = http.get("/api/v1/gates/g1/replica", params={"since": unchanged["cursor"]},
                   headers=gate).json()
    assert inc["full"] is False
    assert sorted((c["ref"], c["status"]) for c in inc["codes"]) == [
        ("1:1", "issued"), ("1:2", "revoked")]
    assert [(u["ref"], u["entries"], u["first_gate"]) for u in inc["used"]] == [("1:1", 1, "g1")]
    assert inc["imported"] == []
    assert [k["key_id"] for k in inc["keys"]] == [1, 2]
    # A cursor that is garbage or too old gets a full replica.
    for bad in ("garbage", "c1.1", "c1.99999999999999999999"):
        again = http.get("/api/v1/gates/g1/replica", params={"since": bad}, headers=gate).json()
        assert again["full"] is True
    http.close()


def test_key_rotation_and_retirement_over_http(client: Any) -> None:
    old = make_series(client, issue_count=1)["codes"][0]["code"]
    r = client.post("/api/v1/keys/rotate", headers=ADMIN_H)
    assert r.status_code == 201 and r.json()["key_id"] == 2
    new = client.post("/api/v1/series/1/codes", json={"count": 1}, headers=ADMIN_H).json()[0]
    assert codes.classify(new["code"]).generated.key_id == 2  # type: ignore[union-attr]
    assert redeem(client, old, ADMIN_H)["result"] == "admit"  # old key still verifies
    assert client.post("/api/v1/keys/1/retire", headers=ADMIN_H).json()["status"] == "retired"
    assert redeem(client, old, ADMIN_H)["reason"] == "revoked"
    assert redeem(client, new["code"], ADMIN_H)["result"] == "admit"
    assert client.post("/api/v1/keys/9/retire", headers=ADMIN_H).status_code == 404
