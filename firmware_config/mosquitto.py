"""Mosquitto's password file and ACL file, generated from the inventory.

Passwords are hashed once, at provisioning, and only the hash is kept in the inventory, so the
``passwd`` file can be regenerated for the whole venue without the plain passwords. The hash is
Mosquitto 2's ``$7$`` format: PBKDF2-HMAC-SHA512, ``$7$<iterations>$<base64 salt>$<base64 hash>``
(12-byte salt, 64-byte hash). ``mosquitto_passwd`` makes it when installed; otherwise the same
bytes come from :func:`hashlib.pbkdf2_hmac`, and a test checks a real broker accepts them.

The ACL gives each device the narrowest rights the MQTT contract needs: write its own
``status``, ``telemetry``, ``event/#`` and ``cmd_result`` and its Home Assistant discovery topic;
read only its own ``cmd/#`` (and Home Assistant's ``homeassistant/status``, to publish discovery
again when Home Assistant restarts). It can never write a command, not even to itself. A hub reads
every topic of its site and writes commands to any device.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from venue.ha import HA_STATUS
from venue.topics import DeviceRef, ha_discovery

ITERATIONS = 101
"""Mosquitto 2.0's default; the passwords are 256-bit random, so iterations add nothing."""
SALT_BYTES = 12

Runner = Callable[..., subprocess.CompletedProcess[bytes]]


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """Hash ``password`` in Mosquitto's ``$7$`` (PBKDF2-SHA512) format, in Python."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches a ``$7$`` hash (what Mosquitto checks at login)."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        want = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), len(want)
        )
    except ValueError:
        return False
    return hmac.compare_digest(want, got)


def hash_with_mosquitto_passwd(
    username: str, password: str, *, exe: str | None = None, run: Runner = subprocess.run
) -> str | None:
    """Hash with ``mosquitto_passwd -U`` when it is installed, else return ``None``.

    The password goes through a 0600 temp file, never the command line (where ``ps`` shows it).
    """
    exe = exe or shutil.which("mosquitto_passwd")
    if not exe:
        return None
    with tempfile.TemporaryDirectory(prefix="venue-passwd-") as tmp:
        path = Path(tmp) / "passwd"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{username}:{password}\n")
        result = run([exe, "-U", str(path)], capture_output=True, check=False)
        if result.returncode != 0:
            return None
        line = path.read_text(encoding="utf-8").strip()
    user, _, hashed = line.partition(":")
    return hashed if user == username and hashed.startswith("$7$") else None


def make_password_hash(username: str, password: str, *, run: Runner = subprocess.run) -> str:
    """Mosquitto's own hash when ``mosquitto_passwd`` is here, else the same format in Python."""
    return hash_with_mosquitto_passwd(username, password, run=run) or hash_password(password)


@dataclass(frozen=True)
class BrokerAccount:
    """One login on the broker: who it is, its hash, and where it sits in the topic tree."""

    username: str
    password_hash: str
    ref: DeviceRef


def device_acl(ref: DeviceRef, username: str) -> list[str]:
    """ACL lines for one device (a ``hub`` gets the site-wide rights of the hub)."""
    lines = [f"user {username}"]
    if ref.role == "hub":
        lines += [
            f"topic readwrite {ref.root}/#",
            f"topic read venue/v1/{ref.site}/#",
            f"topic write venue/v1/{ref.site}/+/+/cmd/#",
            "topic read homeassistant/#",
            f"topic write {ha_discovery(ref.device)}",
        ]
        return lines
    lines += [
        f"topic write {ref.status()}",
        f"topic write {ref.telemetry()}",
        f"topic write {ref.root}/event/#",
        f"topic write {ref.cmd_result()}",
        f"topic read {ref.root}/cmd/#",
        f"topic write {ha_discovery(ref.device)}",
        f"topic read {HA_STATUS}",  # Home Assistant's birth message: publish discovery again
    ]
    return lines


def render_passwd(accounts: Iterable[BrokerAccount]) -> str:
    """The ``password_file`` for every active device, sorted so diffs stay small."""
    return "".join(f"{a.username}:{a.password_hash}\n" for a in sorted(accounts, key=_key))


def render_acl(accounts: Iterable[BrokerAccount]) -> str:
    """The ``acl_file``: nothing for anonymous clients, then one block per device."""
    out = ["# Generated by `venue provision`; edit the inventory, not this file.", ""]
    for account in sorted(accounts, key=_key):
        out += [*device_acl(account.ref, account.username), ""]
    return "\n".join(out)


def render_broker_conf(passwd_path: str, acl_path: str, listeners: Sequence[str] = ()) -> str:
    """A ``conf.d`` snippet that makes Mosquitto use the generated files."""
    lines = [
        "# Generated by `venue provision`: every device logs in with its own credentials.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {passwd_path}",
        f"acl_file {acl_path}",
        "# Events wait at the broker while the hub is away (restart, upgrade): keep them across a",
        "# broker restart, and queue far more than Mosquitto's default of 1000 per client, which",
        "# silently drops the rest. The hub batches its acks, so let it have many in flight.",
        "persistence true",
        "max_queued_messages 200000",
        "max_inflight_messages 1000",
        *listeners,
    ]
    return "\n".join(lines) + "\n"


def render_tls_listener(port: int, cafile: str, certfile: str, keyfile: str,
                        bind: str | None = None, crlfile: str | None = None) -> str:
    """A TLS listener where the client certificate's CN is the username, so the ACL applies;
    ``crlfile`` (the inventory's ``ca/crl.pem``) keeps revoked devices' certificates out."""
    lines = [
        f"listener {port}{' ' + bind if bind else ''}",
        f"cafile {cafile}",
        f"certfile {certfile}",
        f"keyfile {keyfile}",
        *([f"crlfile {crlfile}"] if crlfile else []),
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
    ]
    return "\n".join(lines) + "\n"


def _key(account: BrokerAccount) -> str:
    return account.username


# -- a whole broker: operators, dynamic security, the bridge to a central broker -----------------

DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"
DYNSEC_PLUGIN_DIRS = ("/usr/lib/*", "/usr/lib", "/usr/lib/mosquitto", "/usr/local/lib",
                      "/usr/local/lib/*", "/usr/lib/*/mosquitto", "/opt/homebrew/lib")


def operator_username(site: str) -> str:
    """The operators' login of a site (``venue monitor``, ``venue cmd``, Home Assistant)."""
    return f"{site}.operator"


def operator_acl(site: str, username: str) -> list[str]:
    """Operators watch the whole site and send commands; Home Assistant's own topics too
    (its birth message, and reading the devices' discovery). They write no device topic."""
    return [
        f"user {username}",
        f"topic read venue/v1/{site}/#",
        f"topic write venue/v1/{site}/+/+/cmd/#",
        "topic readwrite homeassistant/#",
    ]


def acl_rules(lines: Sequence[str]) -> list[tuple[str, str]]:
    """``(access, topic)`` pairs of one ACL block (the ``user`` line is skipped)."""
    out = []
    for line in lines:
        parts = line.split(None, 2)
        if parts[0] == "topic":
            out.append((parts[1], parts[2]))
    return out


def dynsec_password(password_hash: str) -> dict[str, Any]:
    """A ``$7$`` hash as the dynamic-security plugin stores it (same PBKDF2-SHA512 bytes)."""
    _, kind, iterations, salt, digest = password_hash.split("$")
    if kind != "7":
        raise ValueError("only Mosquitto 2's $7$ (PBKDF2-SHA512) hashes can be carried over")
    return {"password": digest, "salt": salt, "iterations": int(iterations)}


def dynsec_acls(rules: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Our ``read``/``write`` rules in the plugin's terms (everything is denied by default).

    Write is ``publishClientSend`` on the topic. Read is ``publishClientReceive`` on the topic,
    checked for every message delivered (retained ones too), and a login that reads anything may
    subscribe to any filter: that is how Mosquitto's ``acl_file`` behaves, and it lets
    ``venue monitor`` subscribe to ``venue/v1/+/#`` while receiving only its site. (The plugin's
    ``subscribePattern`` matches a filter literally: ``venue/v1/+/#`` is not under
    ``venue/v1/s1/#``, so a narrower subscribe rule would refuse the operator's tools.)
    """
    acls: list[dict[str, Any]] = []
    reads = False
    for access, topic in rules:
        if access in ("write", "readwrite"):
            acls.append({"acltype": "publishClientSend", "topic": topic, "priority": 0,
                         "allow": True})
        if access in ("read", "readwrite"):
            reads = True
            acls.append({"acltype": "publishClientReceive", "topic": topic, "priority": 0,
                         "allow": True})
    if reads:
        acls.append({"acltype": "subscribePattern", "topic": "#", "priority": 0, "allow": True})
    return acls


def render_dynsec(logins: Iterable[tuple[str, str, list[str]]],
                  admin: tuple[str, str] | None = None) -> dict[str, Any]:
    """The plugin's ``dynamic-security.json``: one role per login holding exactly its ACL block.

    Args:
        logins: ``(username, $7$ hash, ACL block lines)`` per login.
        admin: ``(username, $7$ hash)`` of a login allowed to change this at run time with
            ``mosquitto_ctrl dynsec ...`` (revoke a device without a restart).
    """
    clients, roles = [], []
    for username, password_hash, lines in sorted(logins):
        rolename = f"login-{username}"
        roles.append({"rolename": rolename, "acls": dynsec_acls(acl_rules(lines))})
        clients.append({"username": username, "textname": username,
                        "roles": [{"rolename": rolename, "priority": 0}],
                        **dynsec_password(password_hash)})
    if admin is not None:
        roles.append({"rolename": "admin", "acls": dynsec_acls(
            [("readwrite", "$CONTROL/dynamic-security/#")])})
        clients.append({"username": admin[0], "textname": "dynamic security admin",
                        "roles": [{"rolename": "admin", "priority": 0}],
                        **dynsec_password(admin[1])})
    return {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def find_dynsec_plugin(dirs: Sequence[str] | None = None) -> str | None:
    """Where this machine's Mosquitto keeps the dynamic-security plugin, if it has one."""
    import glob

    for d in DYNSEC_PLUGIN_DIRS if dirs is None else dirs:
        for path in sorted(glob.glob(f"{d}/{DYNSEC_PLUGIN}")):
            if os.path.isfile(path):
                return path
    return None


@dataclass(frozen=True)
class Bridge:
    """The venue broker's uplink to a central broker.

    Attributes:
        site: Only this site's topics cross the bridge.
        host, port, tls: The central broker (``mqtts://`` means TLS).
        username, password: The venue's login at the central broker.
        cafile: CA of the central broker's certificate (system CAs when ``None``).
        name: Mosquitto's connection name (also its client id at the central side).
    """

    site: str
    host: str
    port: int
    tls: bool
    username: str
    password: str
    cafile: str | None = None
    name: str = ""

    @property
    def connection(self) -> str:
        return self.name or f"venue-{self.site}"


def bridge_topics(site: str) -> list[str]:
    """``topic`` lines: events, status and results go out, the site's commands come in."""
    root = f"venue/v1/{site}/+/+"
    return [
        f"topic {root}/event/# out 1",
        f"topic {root}/status out 1",
        f"topic {root}/cmd_result out 1",
        f"topic {root}/telemetry out 0",
        f"topic {root}/cmd/# in 1",
    ]


def render_bridge(b: Bridge) -> str:
    """A ``connection`` section that keeps events while the uplink is down.

    The bridge is a persistent session at both ends (``cleansession false``): at the venue broker
    its subscriptions stay while the central broker is away, so QoS 1 events queue there (up to
    ``max_queued_messages``, and on disk with ``persistence``), then drain in order; at the central
    broker the commands meant for the venue wait for the bridge in the same way.
    """
    lines = [
        f"connection {b.connection}",
        f"address {b.host}:{b.port}",
        f"remote_clientid {b.connection}",
        f"remote_username {b.username}",
        f"remote_password {b.password}",
        "bridge_protocol_version mqttv311",
        "cleansession false",
        "local_cleansession false",
        "try_private true",
        "notifications false",
        "start_type automatic",
        "restart_timeout 1 15",
        "keepalive_interval 30",
        *bridge_topics(b.site),
    ]
    if b.tls:
        lines += [f"bridge_cafile {b.cafile}" if b.cafile else "bridge_capath /etc/ssl/certs",
                  "bridge_insecure false", "bridge_tls_version tlsv1.2"]
    return "\n".join(lines) + "\n"
