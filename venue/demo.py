"""``venue demo``: the whole venue on this machine, with simulated hardware, until Ctrl-C.

It starts what a real venue runs — a Mosquitto broker, the hub, gates — as separate processes
talking over the real protocols, so what a newcomer sees is what a venue gets. Only the hardware
is simulated: gates read codes from their stdin (fed by a visitor simulator) and drive gpiozero's
mock pins. Data stays in ``var/demo`` for the next run; the seed (series, codes, tokens) is made
once.

The broker runs like a venue's: no anonymous logins, one login per device with the narrowest ACL
(made with ``firmware_config``'s own password hashing and ACL rules), persistence on, and a queue
limit high enough that a hub that is away does not lose events. An operator login for
``venue monitor`` / ``venue cmd`` is written to ``var/demo/monitor.toml``, which both find by
themselves. The seed is a demo venue: a concert's ticket series with issued codes, two businesses
with visit rules, a catalog with images, and rewards that turn points into coupons; a lottery, a
promotion, tickets and a pass in the catalog, a sales outlet, and a demo customer with prepaid
money, a pass and a wallet link. The hub mails its notifications to a local mailbox
(``var/demo/mail``) when aiosmtpd is installed; without one they are recorded ``no_channel``.
The banner says where each page is and with which token; ``var/demo/demo.json`` holds the same
for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from venue.demo_mailbox import Mailbox, start_mailbox
from venue.demo_seed import admin_token, demo_session, seed, seed_extras, seed_loyalty
from venue.errors import VenueError
from venue.topics import DeviceRef

SITE = "demo"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default="var/demo", help="where the demo keeps its state")
    p.add_argument("--headless", action="store_true", help="no kiosk window (for scripts and CI)")
    p.add_argument("--gates", type=int, default=2, help="how many simulated gates (default 2)")
    p.add_argument(
        "--visitors-per-minute", type=float, default=30.0, help="visitor simulator pace"
    )
    p.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: Ctrl-C)"
    )
    p.add_argument("--reset", action="store_true", help="forget the previous run's data first")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None
             ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise VenueError(f"{what} exited with status {proc.returncode}; see its log")
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise VenueError(f"{what} did not come up within {timeout:.0f} s")


def port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.3):
        return True


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[Any]
    log: IO[bytes]


@dataclass
class Demo:
    """The running demo: its children in start order, stopped in reverse."""

    data: Path
    children: list[Child] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    extras: list[subprocess.Popen[Any]] = field(default_factory=list)
    """One-shot helpers (the kiosk's screenshot tour): stopped at shutdown, never watched."""

    def spawn(self, name: str, argv: list[str], *, stdin: int | None = None,
              env: dict[str, str] | None = None) -> Child:
        log = open(self.data / "logs" / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def shutdown(self) -> None:
        """Stop children newest first, each before the next, so devices say goodbye to a broker
        that is still there and the hub sees their last events."""
        for extra in self.extras:
            if extra.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(extra.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    extra.wait(10)
        for child in reversed(self.children):
            if child.proc.poll() is None:
                with contextlib.suppress(OSError):
                    if child.proc.stdin:
                        child.proc.stdin.close()
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(10)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait(5)
            child.log.close()


def venue_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "venue.cli", *args]


OPERATOR = "operator"
"""The monitor's login: a hub-role account (reads the site, may send commands), no device."""


def broker_logins(data: Path, gates: int) -> dict[str, tuple[DeviceRef, str]]:
    """Each demo device's broker login ``{device: (ref, password)}``, made once and kept.

    Passwords are random and live in ``var/demo/secrets/*.pass`` (0600), like the secrets a
    technician's inventory keeps.
    """
    secrets_dir = data / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    refs = [DeviceRef(SITE, "hub", "hub"), DeviceRef(SITE, "hub", OPERATOR),
            DeviceRef(SITE, "beacon", "beacon-1"), DeviceRef(SITE, "kiosk", "kiosk-1"),
            *(DeviceRef(SITE, "gate", f"gate-{i}") for i in range(1, gates + 1))]
    out: dict[str, tuple[DeviceRef, str]] = {}
    for ref in refs:
        path = secrets_dir / f"{ref.device}.pass"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        out[ref.device] = (ref, path.read_text().strip())
    return out


def username(ref: DeviceRef) -> str:
    return f"{ref.site}.{ref.role}.{ref.device}"


def start_broker(demo: Demo, logins: dict[str, tuple[DeviceRef, str]]) -> int:
    """Mosquitto with per-device passwords and ACLs from ``firmware_config``, on a free port."""
    from firmware_config.mosquitto import (
        BrokerAccount,
        hash_password,
        render_acl,
        render_broker_conf,
        render_passwd,
    )

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise VenueError("mosquitto is not installed: run `make demo`, which installs it")
    port = free_port()
    mq = demo.data / "mosquitto"
    mq.mkdir(exist_ok=True)
    accounts = [BrokerAccount(username(ref), hash_password(pw), ref) for ref, pw in logins.values()]
    (mq / "passwd").write_text(render_passwd(accounts))
    (mq / "acl").write_text(render_acl(accounts))
    for name in ("passwd", "acl"):
        (mq / name).chmod(0o600)
    conf = demo.data / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        # Run as ourselves: as root Mosquitto would switch to its own user, which cannot read
        # the 0600 files here.
        + ("user root\n" if os.geteuid() == 0 else "")
        + f"persistence true\npersistence_location {mq}/\n"
        # Mosquitto's default (1000) drops events for a hub that is away longer (see
        # docs/operations.md); a venue's broker needs the same.
        + "max_queued_messages 1000000\n"
        + render_broker_conf(str(mq / "passwd"), str(mq / "acl"))
    )
    child = demo.spawn("mosquitto", [exe, "-c", str(conf)])
    wait_for(lambda: port_open(port), "mosquitto", proc=child.proc)
    url = f"mqtt://127.0.0.1:{port}"
    (demo.data / "broker.url").write_text(url + "\n")
    ref, _ = logins[OPERATOR]
    op = demo.data / "monitor.toml"
    op.write_text(
        "# The operator's login to the running demo's broker: `venue monitor` and `venue cmd`\n"
        "# read this file when started from the folder the demo runs in.\n"
        f'[mqtt]\nurl = "{url}"\nusername = "{username(ref)}"\n'
        f'password_file = "{demo.data / "secrets" / (OPERATOR + ".pass")}"\n'
    )
    op.chmod(0o600)
    return port


def mqtt_toml(url: str, login: tuple[DeviceRef, str], data: Path) -> str:
    """The ``[mqtt]`` section of a device's config: its own login, the password in a file."""
    ref, _ = login
    return (f'[mqtt]\nurl = "{url}"\nusername = "{username(ref)}"\n'
            f'password_file = "{data / "secrets" / (ref.device + ".pass")}"\n\n')


def start_hub(demo: Demo, mqtt_url: str, login: tuple[DeviceRef, str],
              mailbox: Mailbox | None = None) -> str:
    """The hub on SQLite; wallet links carry its address; mail goes to ``mailbox`` if any."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    notify = {} if mailbox is None else {
        "VENUE_NOTIFY__SMTP_HOST": "127.0.0.1", "VENUE_NOTIFY__SMTP_PORT": str(mailbox.port),
        "VENUE_NOTIFY__MAIL_FROM": "Venue demo <venue@demo.localhost>"}
    child = demo.spawn(
        "hub",
        venue_cmd(
            "hub", "--db", f"sqlite:///{demo.data / 'hub.sqlite'}", "--listen",
            f"127.0.0.1:{port}", "--mqtt", mqtt_url,
        ),
        env={
            "VENUE_ADMIN_TOKEN": admin_token(demo.data),
            "VENUE_DEVICE__SITE": SITE,
            "VENUE_DEVICE__ID": "hub",
            "VENUE_DEVICE__DATA_DIR": str(demo.data / "hub"),
            "VENUE_MQTT__USERNAME": username(login[0]),
            "VENUE_MQTT__PASSWORD_FILE": str(demo.data / "secrets" / "hub.pass"),
            "VENUE_WALLET__BASE_URL": url,
            **notify,
        },
    )
    wait_for(lambda: requests.get(f"{url}/openapi.json", timeout=1).ok, "hub", proc=child.proc)
    (demo.data / "hub.url").write_text(url + "\n")
    return url


def gate_config(data: Path, name: str, hub: str, token: str, mqtt: str) -> Path:
    token_file = data / f"{name}.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    conf = data / f"{name}.toml"
    conf.write_text(
        f'[device]\nsite = "{SITE}"\nid = "{name}"\ndata_dir = "{data / name}"\n\n'
        f"{mqtt}"
        f'[gate]\nhub_url = "{hub}"\nhub_token_file = "{token_file}"\n\n'
        '[scanner]\nkind = "stdin"\n\n'
        f'[io]\npin_factory = "mock"\nmock_trace = "{data / name}.pins"\n'
    )
    return conf


def beacon_config(data: Path, name: str, mqtt: str) -> Path:
    conf = data / f"{name}.toml"
    conf.write_text(
        f'[device]\nsite = "{SITE}"\nid = "{name}"\ndata_dir = "{data / name}"\n\n'
        f"{mqtt}"
        '[beacon]\nbackend = "simulated"\ntelemetry_s = 10.0\n\n'
        '[simulation]\nvisitors_per_minute = 6.0\npassers_per_minute = 6.0\n'
        'mean_stay_s = 120.0\n'
    )
    return conf


def kiosk_config(data: Path, mqtt: str, hub: str, loyalty: dict[str, Any]) -> Path:
    """The kiosk on the demo hub, showing the demo's businesses, with its own token."""
    token_file = data / "kiosk-1.token"
    token_file.write_text(loyalty["kiosk_token"])
    token_file.chmod(0o600)
    conf = data / "kiosk-1.toml"
    conf.write_text(
        f'[device]\nsite = "{SITE}"\nid = "kiosk-1"\ndata_dir = "{data / "kiosk-1"}"\n\n'
        f"{mqtt}"
        f'[kiosk]\nhub_url = "{hub}"\nhub_token_file = "{token_file}"\n'
        f"businesses = {json.dumps(loyalty['businesses'])}\n"
    )
    return conf


def start_kiosk(demo: Demo, conf: Path) -> str:
    """A window when there is a display; else the screenshot tour (under Xvfb if installed).

    The tour runs once and exits, so it is not one of the demo's watched children.
    """
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        demo.spawn("kiosk-1", venue_cmd("kiosk", "--config", str(conf), "--windowed"))
        return "kiosk-1 in a window, on the demo hub"
    tour = demo.data / "kiosk-tour"
    argv = venue_cmd("kiosk", "--config", str(conf), "--screenshot-tour", str(tour))
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        return "kiosk: no display and no xvfb-run (apt-get install xvfb xauth): skipped"
    argv = [xvfb, "-a", "-s", "-screen 0 1280x800x24 +extension GLX", *argv]
    log = open(demo.data / "logs" / "kiosk-tour.log", "ab")  # noqa: SIM115
    (demo.data / "kiosk-1" / "kivy").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
           "KIVY_HOME": str(demo.data / "kiosk-1" / "kivy")}
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    demo.extras.append(proc)
    return f"kiosk-1 screenshot tour (no display; the tour uses its own demo data) -> {tour}"


class Counter:
    """The kiosk's counter as a visitor uses it: register by phone, check in for points.

    It calls the hub's kiosk API with the kiosk's token, like the kiosk app does; the app itself
    (a Kivy window) is for people to look at.
    """

    def __init__(self, hub: str, loyalty: dict[str, Any]) -> None:
        self.hub = hub
        self.businesses: list[int] = loyalty["businesses"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {loyalty['kiosk_token']}"
        self.checkins = 0

    def visit(self, rng: random.Random) -> None:
        phone = f"+38067{rng.randrange(10**7):07d}"
        r = self.http.post(f"{self.hub}/api/v1/customers", timeout=5, json={
            "phone": phone, "consent": True, "businesses": self.businesses})
        if r.status_code not in (200, 201):
            return
        customer = r.json()["customer"]
        r = self.http.post(f"{self.hub}/api/v1/visits", timeout=5, json={
            "customer": customer, "business": rng.choice(self.businesses), "source": "kiosk",
            "device": "kiosk-1", "idempotency_key": f"kiosk-1:visit:{secrets.token_hex(8)}"})
        if r.ok:
            self.checkins += 1


class Visitors:
    """Walks simulated visitors to the gates (mostly valid tickets, some reused, some garbage)
    and one in three of them to the kiosk's counter."""

    def __init__(self, codes: list[str], gates: list[Child], per_minute: float,
                 rng: random.Random | None = None, counter: Counter | None = None) -> None:
        self.fresh = list(codes)
        self.used: list[str] = []
        self.gates = gates
        self.period = 60.0 / max(per_minute, 0.1)
        self.rng = rng or random.Random()
        self.rng.shuffle(self.fresh)
        self.counter = counter

    def next_code(self) -> str:
        roll = self.rng.random()
        if roll < 0.1 and self.used:
            return self.rng.choice(self.used)  # someone tries a used ticket again
        if roll < 0.15:
            return "NOT-A-TICKET-" + secrets.token_hex(3)
        if not self.fresh:
            return self.rng.choice(self.used) if self.used else "SOLD-OUT"
        code = self.fresh.pop()
        self.used.append(code)
        return code

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.period):
            gate = self.rng.choice(self.gates)
            if gate.proc.stdin is None or gate.proc.poll() is not None:
                continue
            try:
                gate.proc.stdin.write((self.next_code() + "\n").encode())
                gate.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                continue
            if self.counter is not None and self.rng.random() < 1 / 3:
                try:
                    self.counter.visit(self.rng)
                except requests.RequestException:
                    continue


def try_lines(session: dict[str, Any], extras: dict[str, Any], mailbox: Mailbox | None) -> str:
    """The banner's "try it" part: each page or token with how to try it, one line each."""
    hub = session["hub"]
    outlet = session["outlet_token"]
    sale = json.dumps({"series": extras["concert"], "qty": 1, "idempotency_key": "try-1"})
    codes = ", ".join(session["lottery_codes"]) or "all played (--reset for new ones)"
    mail = (f"{mailbox.folder}/*.eml: the wallet link and a VIP coupon with its QR, as the hub "
            "sent them by SMTP" if mailbox is not None else
            "no SMTP here (pip install aiosmtpd): messages are recorded no_channel")
    return (
        "try it:\n"
        f"  dashboard {session['dashboard']}  (operator token {session['operator_token']}: "
        "paste it on the login form; devices, live events, Open a gate)\n"
        f"  steward   {session['steward']}  (validator token {session['validator_token']}: "
        f"type {extras['steward_codes'][0]}, Check, then Redeem twice)\n"
        f"  wallet    {session['wallet_url']}  (demo customer "
        f"{extras['customer']['masked_phone']}: prepaid, a 5-visit pass, coupons, Happy hour)\n"
        f"  outlet    token {outlet}: curl -X POST {hub}/api/v1/outlet/sales "
        f"-H 'Authorization: Bearer {outlet}' -H 'Content-Type: application/json' "
        f"-d '{sale}'  (a new idempotency_key for each sale)\n"
        f"  lottery   at the kiosk, Rewards > Play \"Spring draw\": {codes} "
        "(each plays once; one in two wins a latte)\n"
        f"  shop      the kiosk's menu sells a concert ticket and a 5-visit pass "
        "(the code is issued when the register closes the check)\n"
        f"  mail      {mail}\n"
    )


def run(args: argparse.Namespace) -> int:
    data = Path(args.data_dir).resolve()
    if args.reset and data.exists():
        shutil.rmtree(data)
    (data / "logs").mkdir(parents=True, exist_ok=True)
    demo = Demo(data)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: demo.stop.set())
    mailbox: Mailbox | None = None
    try:
        logins = broker_logins(data, args.gates)
        port = start_broker(demo, logins)
        mqtt_url = f"mqtt://127.0.0.1:{port}"
        mailbox = start_mailbox(data / "mail", free_port())
        hub = start_hub(demo, mqtt_url, logins["hub"], mailbox)
        seeded = seed(data, hub, args.gates)
        gates = []
        for i in range(1, args.gates + 1):
            name = f"gate-{i}"
            conf = gate_config(data, name, hub, seeded["gate_tokens"][name],
                               mqtt_toml(mqtt_url, logins[name], data))
            gates.append(demo.spawn(name, venue_cmd("gate", "--config", str(conf)),
                                    stdin=subprocess.PIPE))
        beacon = demo.spawn("beacon-1", venue_cmd("beacon", "--config", str(beacon_config(
            data, "beacon-1", mqtt_toml(mqtt_url, logins["beacon-1"], data)))))
        loyalty = seed_loyalty(data, hub)
        extras = seed_extras(data, hub, seeded, loyalty)
        session = demo_session(data, hub, extras)
        kiosk = "kiosk: none (--headless)"
        if not args.headless:
            kiosk = start_kiosk(demo, kiosk_config(
                data, mqtt_toml(mqtt_url, logins["kiosk-1"], data), hub, loyalty))
        visitors = Visitors(seeded["codes"], gates, args.visitors_per_minute,
                            counter=Counter(hub, loyalty))
        threading.Thread(target=visitors.run, args=(demo.stop,), daemon=True).start()
        print(
            f"venue demo is running (data in {data}):\n"
            f"  broker   {mqtt_url}  (per-device logins and ACLs; operator login in "
            f"{data / 'monitor.toml'})\n"
            f"  hub      {hub}  (API docs: {hub}/docs, admin token in {data / 'admin.token'})\n"
            f"  gates    {', '.join(g.name for g in gates)} (stdin scanners, mock pins)\n"
            f"  beacon   {beacon.name} (simulated phones walking in and out)\n"
            f"  {kiosk}\n"
            f"  logs     {data / 'logs'}\n"
            "  watch    venue monitor   (or: venue cmd gate-1 open), from this folder\n"
            + try_lines(session, extras, mailbox)
            + "Ctrl-C stops everything; the data stays for the next run.",
            flush=True,
        )
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        while not demo.stop.wait(0.5):
            for child in demo.children:
                if child.proc.poll() is not None:
                    raise VenueError(
                        f"{child.name} exited with status {child.proc.returncode}; "
                        f"see {data / 'logs' / (child.name + '.log')}"
                    )
            if deadline is not None and time.monotonic() >= deadline:
                break
        return 0
    finally:
        demo.stop.set()
        demo.shutdown()
        if mailbox is not None:
            mailbox.stop()
