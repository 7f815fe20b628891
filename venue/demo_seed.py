"""The demo venue's seed: what an operator would set up before opening, made once per data dir.

A concert's ticket series with issued codes and the gates' tokens; two businesses with visit
rules, a catalog with images, rewards that turn points into coupons, and the kiosk's token
(``seed``, ``seed_loyalty``). Then what reaches customers and partners (``seed_extras``): a
running lottery with printed codes, a promotion with a coupon, a ticket and a pass sold from the
catalog, a sales outlet with its token and quota, a demo customer with an email, a prepaid
top-up, a pass and a campaign coupon, and the operator's and steward's tokens.
Everything goes through the hub's HTTP API with the admin token, as an operator's tools would.
Each part is recorded in a JSON file as soon as it is made, so a seed interrupted half-way goes
on where it stopped instead of making things twice.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import requests

from venue.errors import VenueError


def admin_token(data: Path) -> str:
    path = data / "admin.token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def seed(data: Path, hub: str, gates: int) -> dict[str, Any]:
    """Create the demo's series, codes and device tokens once; later runs reuse them."""
    path = data / "seed.json"
    if path.exists():
        seeded: dict[str, Any] = json.loads(path.read_text())
        if len(seeded.get("gate_tokens", {})) >= gates:
            return seeded
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin_token(data)}"

    def post(url: str, body: dict[str, Any]) -> Any:
        r = s.post(f"{hub}{url}", json=body, timeout=30)
        if not r.ok:
            raise VenueError(f"seeding the demo: POST {url} answered {r.status_code}: {r.text}")
        return r.json()

    series = post("/api/v1/series", {
        "name": "Demo concert", "kind": "ticket", "code_mode": "generated", "issue_limit": 5000,
        "entries_per_code": 1, "entry_rule": "single",
    })
    issued = post(f"/api/v1/series/{series['id']}/codes", {"count": 500})
    tokens = {
        f"gate-{i}": post("/api/v1/tokens", {"role": "gate", "device": f"gate-{i}"})["token"]
        for i in range(1, gates + 1)
    }
    seeded = {"series": series["id"], "codes": [c["code"] for c in issued],
              "gate_tokens": tokens}
    path.write_text(json.dumps(seeded))
    path.chmod(0o600)
    return seeded


def _image(text: str, rgb: tuple[int, int, int]) -> bytes:
    """A small PNG tile for a catalog item (PIL; a plain colour when PIL is missing)."""
    import io

    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - PIL comes with the gate's extra
        import base64

        return base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJ"
            "RU5ErkJggg==")
    img = Image.new("RGB", (240, 240), rgb)
    ImageDraw.Draw(img).text((20, 110), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


CATALOG = {
    "Cafe": [("Drinks", [("Latte", "55.00", (120, 80, 40)), ("Tea", "35.00", (60, 120, 60))]),
             ("Food", [("Croissant", "45.00", (200, 150, 60))])],
    "Merch": [("Shirts", [("Band T-shirt", "450.00", (30, 30, 90))]),
              ("Small things", [("Sticker pack", "60.00", (160, 40, 90))])],
}


def seed_loyalty(data: Path, hub: str) -> dict[str, Any]:
    """Two businesses with visit rules, a catalog with images, rewards, a kiosk token; once."""
    path = data / "seed-loyalty.json"
    if path.exists():
        done: dict[str, Any] = json.loads(path.read_text())
        return done
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {admin_token(data)}"

    def call(method: str, url: str, **kw: Any) -> Any:
        r = s.request(method, f"{hub}{url}", timeout=30, **kw)
        if not r.ok:
            raise VenueError(f"seeding the demo: {method} {url} answered {r.status_code}: "
                             f"{r.text[:300]}")
        return r.json()

    businesses: list[int] = []
    for i, (name, categories) in enumerate(CATALOG.items()):
        biz = call("POST", "/api/v1/businesses", json={"name": name, "currency": "UAH"})
        call("PUT", f"/api/v1/businesses/{biz['id']}/rules",
             json={"visit_points": 10, "visit_cooldown_s": 3600, "welcome_bonus": 20})
        for pos, (cat_name, items) in enumerate(categories):
            cat = call("POST", "/api/v1/catalog/categories",
                       json={"business": biz["id"], "name": cat_name, "position": pos})
            for item, price, rgb in items:
                media = f"demo-{biz['id']}-{len(businesses)}-{item.lower().replace(' ', '-')}.png"
                call("PUT", f"/api/v1/media/{media}", data=_image(item, rgb),
                     headers={"Content-Type": "image/png"})
                call("POST", "/api/v1/catalog/items",
                     json={"business": biz["id"], "category": cat["id"], "name": item,
                           "price": price, "image": media})
        coupon = call("POST", "/api/v1/series", json={
            "name": f"{name}: reward coupon", "kind": "coupon", "code_mode": "generated",
            "issue_limit": 5000, "entries_per_code": 1, "entry_rule": "single"})
        reward = "Free coffee" if i == 0 else "Sticker pack"
        picture = f"demo-reward-{biz['id']}.png"
        call("PUT", f"/api/v1/media/{picture}", data=_image(reward, (90, 60, 140)),
             headers={"Content-Type": "image/png"})
        call("POST", "/api/v1/rewards", json={
            "business": biz["id"], "name": reward, "cost": 30, "series": coupon["id"],
            "image": picture})
        businesses.append(biz["id"])
    token = call("POST", "/api/v1/tokens", json={"role": "kiosk", "device": "kiosk-1"})["token"]
    done = {"businesses": businesses, "kiosk_token": token}
    path.write_text(json.dumps(done))
    path.chmod(0o600)
    return done


DEMO_PHONE = "+380670000001"
"""The demo customer's number (never printed: the banner shows it masked)."""
DEMO_EMAIL = "demo.customer@example.org"
OUTLET = "agency-1"


class _Api:
    """The hub's API with the admin token; any answer but 2xx stops the seed with its text."""

    def __init__(self, hub: str, token: str) -> None:
        self.hub = hub
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, url: str, **kw: Any) -> Any:
        r = self.http.request(method, f"{self.hub}{url}", timeout=30, **kw)
        if not r.ok:
            raise VenueError(f"seeding the demo: {method} {url} answered {r.status_code}: "
                             f"{r.text[:300]}")
        return r.json()

    def put(self, url: str, body: dict[str, Any]) -> bool:
        """An idempotent replace: safe to repeat."""
        self("PUT", url, json=body)
        return True

    def media(self, name: str, text: str, rgb: tuple[int, int, int]) -> str:
        self("PUT", f"/api/v1/media/{name}", data=_image(text, rgb),
             headers={"Content-Type": "image/png"})
        return name

    def coupon_series(self, name: str, **extra: Any) -> int:
        body = {"name": name, "kind": "coupon", "code_mode": "generated", "issue_limit": 5000,
                "entries_per_code": 1, "entry_rule": "single", **extra}
        return int(self("POST", "/api/v1/series", json=body)["id"])


class _Steps:
    """Parts of the seed made once each, written to ``path`` as soon as each is made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def __call__(self, name: str, make: Any) -> Any:
        if name not in self.done:
            self.done[name] = make()
            self.path.write_text(json.dumps(self.done, indent=1))
            self.path.chmod(0o600)
        return self.done[name]


def _customer(api: _Api, businesses: list[int]) -> dict[str, Any]:
    """The demo customer: registered, an email on file (mail goes to the demo's mailbox), the
    ``vip`` tag a campaign selects, and 200.00 UAH prepaid at the cafe. Each call is
    idempotent, so this step may run again after an interruption."""
    summary = api("POST", "/api/v1/customers",
                  json={"phone": DEMO_PHONE, "consent": True, "businesses": businesses})
    cid = summary["customer"]
    api.put(f"/api/v1/customers/{cid}/contact", {"email": DEMO_EMAIL})
    api("PUT", f"/api/v1/customers/{cid}/tags", json={"tags": ["vip"]})
    top = api("POST", "/api/v1/prepaid/topup", json={
        "customer": cid, "business": businesses[0], "amount": "200.00",
        "idempotency_key": "demo-seed:topup"})
    return {"id": cid, "masked_phone": summary["masked_phone"], "prepaid": top["prepaid"]}


def _item(api: _Api, business: int, category: int, name: str, price: str, series: int,
          rgb: tuple[int, int, int]) -> int:
    media = api.media(f"demo-item-{series}.png", name, rgb)
    item = api("POST", "/api/v1/catalog/items", json={
        "business": business, "category": category, "name": name, "price": price,
        "image": media})
    return int(item["id"])


def seed_extras(data: Path, hub: str, seeded: dict[str, Any],
                loyalty: dict[str, Any]) -> dict[str, Any]:
    """Lottery, promotion, ticket and pass items, outlet, demo customer, staff tokens; once."""
    api = _Api(hub, admin_token(data))
    step = _Steps(data / "seed-extras.json")
    cafe, merch = step("businesses", lambda: loyalty["businesses"][:2])
    concert = step("concert", lambda: int(seeded["series"]))

    def token(role: str, device: str) -> str:
        return str(api("POST", "/api/v1/tokens", json={"role": role, "device": device})["token"])

    step("operator_token", lambda: token("operator", "demo-desk"))
    step("validator_token", lambda: token("validator", "steward-1"))
    step("outlet_token", lambda: token("outlet", OUTLET))
    customer = step("customer", lambda: _customer(api, [cafe, merch]))
    # Lottery: half the plays win a latte coupon, half are "Try again".
    latte = step("lottery_series", lambda: api.coupon_series("Lottery latte"))
    lottery = step("lottery", lambda: api("POST", "/api/v1/lotteries", json={
        "business": cafe, "name": "Spring draw",
        "text": "Type the code from your receipt and win a latte"})["id"])
    step("lottery_prizes", lambda: api.put(f"/api/v1/lotteries/{lottery}/prizes", {
        "prizes": [{"name": "Free latte", "series": latte, "weight": 1, "count": 500},
                   {"name": "Try again", "weight": 1}]}))
    step("lottery_codes", lambda: api("POST", f"/api/v1/lotteries/{lottery}/codes",
                                      json={"count": 40})["codes"])
    # A promotion with a free, shareable coupon, shown on the kiosk and the wallet page.
    cookie = step("promotion_series", lambda: api.coupon_series("Happy-hour cookie"))
    step("promotion_sharing", lambda: api.put(f"/api/v1/series/{cookie}/sharing",
                                              {"shareable": True}))
    step("promotion", lambda: api("POST", "/api/v1/promotions", json={
        "business": cafe, "title": "Happy hour", "series": cookie, "cost": 0,
        "text": "A free cookie with any drink, every day from 16:00 to 18:00",
        "image": api.media("demo-promo-happy-hour.png", "Happy hour", (200, 90, 40))})["id"])
    # The concert's tickets sold from the catalog and by an outlet; a 5-visit pass.
    step("ticket_rules", lambda: api.put(f"/api/v1/series/{concert}/sales-rules", {
        "per_order_limit": 6, "per_customer_limit": None, "transferable": True,
        "bound_to_phone": False}))
    tickets = step("tickets_category", lambda: api("POST", "/api/v1/catalog/categories", json={
        "business": merch, "name": "Tickets", "position": 2})["id"])
    ticket_item = step("ticket_item", lambda: _item(
        api, merch, tickets, "Concert ticket", "300.00", concert, (20, 110, 160)))
    step("ticket_item_series", lambda: api.put(f"/api/v1/catalog/items/{ticket_item}/series",
                                                 {"series": concert}))
    pass_series = step("pass_series", lambda: api("POST", "/api/v1/series", json={
        "name": "5-visit pass", "kind": "pass", "code_mode": "generated",
        "issue_limit": 5000, "entries_per_code": 5, "entry_rule": "single"})["id"])
    passes = step("passes_category", lambda: api("POST", "/api/v1/catalog/categories", json={
        "business": cafe, "name": "Passes", "position": 2})["id"])
    pass_item = step("pass_item", lambda: _item(
        api, cafe, passes, "5-visit pass", "200.00", pass_series, (40, 140, 100)))
    step("pass_item_series", lambda: api.put(f"/api/v1/catalog/items/{pass_item}/series",
                                               {"series": pass_series}))
    step("customer_pass", lambda: api("POST", f"/api/v1/series/{pass_series}/codes",
                                      json={"customers": [customer["id"]]})[0]["ref"])
    step("outlet", lambda: api("POST", "/api/v1/outlets",
                               json={"id": OUTLET, "name": "City Tickets"})["id"])
    step("outlet_quota", lambda: api.put(f"/api/v1/outlets/{OUTLET}/series/{concert}",
                                         {"quota": 50, "price": "250.00", "currency": "UAH"}))
    step("steward_codes", lambda: [
        c["short_serial"] for c in api("POST", f"/api/v1/series/{concert}/codes",
                                       json={"count": 3})])
    # Referral and birthday rules, and a campaign that mails the VIP demo customer a coupon.
    step("wallet_rules", lambda: api.put(f"/api/v1/businesses/{cafe}/wallet-rules", {
        "birthday_points": 50, "birthday_text": "Happy birthday from {business}: {points} points",
        "referrer_points": 30, "referee_points": 20}))
    drink = step("campaign_series", lambda: api.coupon_series("VIP welcome drink"))
    campaign = step("campaign", lambda: api("POST", "/api/v1/campaigns", json={
        "business": cafe, "name": "VIP welcome drink", "kind": "filter", "series": drink,
        "filter": {"tags": ["vip"]}, "notify": True})["id"])
    step("campaign_run", lambda: api("POST", f"/api/v1/campaigns/{campaign}/run")["issued"])
    return step.done


def demo_session(data: Path, hub: str, extras: dict[str, Any]) -> dict[str, Any]:
    """What this run shows: a fresh wallet link (sent, so it lands in the mailbox too; links
    carry this run's hub address) and lottery codes nobody has played yet."""
    api = _Api(hub, admin_token(data))
    link = api("POST", f"/api/v1/customers/{extras['customer']['id']}/wallet-link",
               json={"send": True})
    codes = api("GET", f"/api/v1/lotteries/{extras['lottery']}/codes")["codes"]
    fresh = [c["code"] for c in codes if not c["used"]]
    played = [c["code"] for c in codes if c["used"]]
    session = {"hub": hub, "wallet_url": link["url"], "lottery_codes": fresh[:3],
               "played_codes": played[:1], "dashboard": f"{hub}/dashboard",
               "steward": f"{hub}/steward", "operator_token": extras["operator_token"],
               "validator_token": extras["validator_token"],
               "outlet_token": extras["outlet_token"]}
    path = data / "demo.json"
    path.write_text(json.dumps(session, indent=1))
    path.chmod(0o600)
    return session
