"""Seeding a fresh hub over its admin API: codes, device tokens, a business, customers, installs.

Through the API (not the database) so the run exercises what an operator's tools would call.
Phone numbers are synthetic (``+38067`` and seven digits) and never printed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import requests

from loadsim.devices import Code
from loadsim.procs import ADMIN_TOKEN, LoadsimError


@dataclass
class Seed:
    codes: list[Code] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    """Device id → its API token."""
    business: int = 0
    phones: list[str] = field(default_factory=list)
    installs: list[tuple[int, bytes]] = field(default_factory=list)


class Admin:
    def __init__(self, url: str) -> None:
        self.url = url + "/api/v1"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.http.request(method, self.url + path, timeout=60, **kw)
        if resp.status_code >= 300:
            raise LoadsimError(f"seeding: {method} {path} answered {resp.status_code}: "
                               f"{resp.text[:200]}")
        return resp.json()


def phone_of(i: int) -> str:
    return f"+38067{1000000 + i:07d}"


def seed(url: str, *, codes: int, gates: list[str], kiosks: list[str], phones: int,
         installs: bool) -> Seed:
    """Everything the simulated devices need, made on the replica at ``url``."""
    api = Admin(url)
    out = Seed()
    left = codes
    while left > 0:  # the API issues at most 100,000 codes a call
        n = min(left, 100_000)
        series = api.call("POST", "/series", json={"name": f"loadsim {len(out.codes)}",
                                                   "issue_limit": n, "issue_count": n})
        out.codes += [Code(c["code"], c["ref"], int(series["id"])) for c in series["codes"]]
        left -= n
    for device, role in [(g, "gate") for g in gates] + [(k, "kiosk") for k in kiosks]:
        out.tokens[device] = api.call("POST", "/tokens",
                                      json={"role": role, "device": device})["token"]
    out.business = int(api.call("POST", "/businesses",
                                json={"name": "Loadsim cafe", "currency": "UAH"})["id"])
    api.call("PUT", f"/businesses/{out.business}/rules",
             json={"visit_points": 10, "visit_cooldown_s": 0, "beacon_visits": True,
                   "beacon_min_dwell_s": 60})
    for i in range(phones):
        number = phone_of(i)
        customer = api.call("POST", "/customers", json={
            "phone": number, "consent": True, "businesses": [out.business]})["customer"]
        out.phones.append(number)
        if installs:
            got = api.call("POST", f"/customers/{customer}/installs")
            out.installs.append((int(got["install"]), base64.b64decode(got["secret"])))
    api.http.close()
    return out
