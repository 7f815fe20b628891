"""Hostile input on both databases: never a 500 (NUL bytes, lone surrogates, huge numbers...).

schemathesis fuzzes the schema on SQLite; this runs the nastiest known values through the live
app on PostgreSQL too, where NUL and unpaired surrogates are errors of the driver, not of SQLite.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from hubkit import ADMIN_H

from hub.api.app import create_app
from hub.db import Database
from venue.clock import FakeClock

NASTY = ["\x00", "\ud800", "a\x00b", "\u202e", "💥" * 300, "V1" + "A" * 133, "1-1-1", " ", ""]


def raw(http: httpx.Client, method: str, url: str, body: str | bytes) -> httpx.Response:
    return http.request(method, url, content=body,
                        headers={**ADMIN_H, "Content-Type": "application/json"})


def test_nasty_values_never_give_a_server_error(
    any_db: Database, clock: FakeClock, live_factory: Any
) -> None:
    server = live_factory(create_app(any_db, clock=clock))
    statuses: set[int] = set()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/api/v1/series", json={"name": "S", "issue_count": 1}, headers=ADMIN_H)
        http.post("/api/v1/series", json={"name": "I", "code_mode": "imported"},
                  headers=ADMIN_H)
        for v in NASTY:
            j = _json(v)
            for method, url, body in [
                ("POST", "/api/v1/redemptions",
                 f'{{"code": {j}, "gate": "g1", "nonce": "n{len(v)}"}}'),
                ("POST", "/api/v1/redemptions", f'{{"code": "x", "gate": {j}, "nonce": {j}}}'),
                ("POST", "/api/v1/series", f'{{"name": {j}}}'),
                ("POST", "/api/v1/series",
                 f'{{"name": "x", "code_mode": "shared", "shared_code": {j}}}'),
                ("POST", "/api/v1/codes/1:0/block", f'{{"detail": {j}}}'),
                ("POST", "/api/v1/series/1/codes", f'{{"customers": [{j}]}}'),
                ("POST", "/api/v1/tokens", f'{{"role": "gate", "device": {j}}}'),
                ("POST", "/api/v1/redemptions/x/annul", f'{{"reason": {j}}}'),
                ("POST", "/api/v1/redemptions", f'{{{j}: 1, "code": "x"}}'),
            ]:
                statuses.add(raw(http, method, url, body.encode("utf-8", "surrogatepass"))
                             .status_code)
            q = quote(v[:50].encode("utf-8", "surrogatepass"), safe="")
            for url in (f"/api/v1/codes/{q}", f"/api/v1/gates/g1/replica?since={q}",
                        "/api/v1/series/99999999999999999999", "/api/v1/keys/70000/retire"):
                statuses.add(http.get(url, headers=ADMIN_H).status_code)
            files = {"file": ("x.txt", v.encode("utf-8", "surrogatepass") + b"\nOK-1\n")}
            statuses.add(http.post("/api/v1/series/2/import", files=files,
                                   headers=ADMIN_H).status_code)
        for junk in (b"", b"null", b"[]", b"{", b'{"code": 1e999}', b'{"code": ' + b"[" * 5000):
            statuses.add(raw(http, "POST", "/api/v1/redemptions", junk).status_code)
    assert not {s for s in statuses if s >= 500}, statuses
    assert statuses >= {200, 201, 404, 405, 422}


def _json(v: str) -> str:
    import json

    return json.dumps(v)
