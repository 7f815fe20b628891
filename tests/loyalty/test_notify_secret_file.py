"""The phone secret (which also encrypts emails for notifications) moves out of the database into
a 0600 secrets file once, and is never lost: a hub whose key was moved but whose file is missing
or different refuses to start instead of making a new key."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loyaltykit import ADMIN_H, HubProcess, ok

from hub.db import Database
from hub.loyalty import identity, secret_file
from hub.models import Setting
from venue.clock import FakeClock
from venue.errors import ConfigError

PHONE = "+380671234567"


@pytest.fixture
def forget(any_db: Database) -> Iterator[None]:
    """Unregister the database's file key at the end (and when a test asks: a new process)."""
    yield
    identity._masters.pop(identity._bind_key(any_db.engine), None)


def new_process(db: Database) -> None:
    identity._masters.pop(identity._bind_key(db.engine), None)


def settings(db: Database) -> dict[str, str]:
    with db.read() as s:
        return {r.key: r.value for r in s.query(Setting)}


def test_key_in_the_database_moves_to_the_file_once(any_db: Database, clock: FakeClock,
                                                    tmp_path: Path, forget: None) -> None:
    with any_db.write() as s:
        sec = identity.phone_secret(s)  # the old way: made in hub_settings
        cid = identity.register(s, sec, PHONE, device="t", now=clock.now())[0].id
    old_hex = settings(any_db)[identity.PHONE_KEY]
    path = tmp_path / "data" / "hub-secrets.json"

    master = secret_file.adopt(any_db, path, now=clock.now())
    assert master.hex() == old_hex
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"phone_key": old_hex}
    rows = settings(any_db)
    assert identity.PHONE_KEY not in rows
    marker = json.loads(rows[identity.PHONE_KEY_MOVED])
    assert marker["fingerprint"] == secret_file.fingerprint(master)
    assert old_hex not in rows[identity.PHONE_KEY_MOVED]

    # a restart: same key, the customer is found and the number decrypts
    new_process(any_db)
    assert secret_file.adopt(any_db, path, now=clock.now()) == master
    with any_db.read() as s:
        sec = identity.phone_secret(s)
        found = identity.by_phone(s, sec, PHONE)
        assert found is not None and found.id == cid
        assert sec.decrypt(found.phone_enc) == PHONE


def test_moved_key_is_never_replaced(any_db: Database, clock: FakeClock, tmp_path: Path,
                                     forget: None) -> None:
    path = tmp_path / "hub-secrets.json"
    master = secret_file.adopt(any_db, path, now=clock.now())  # a new hub: made in the file
    assert json.loads(path.read_text())["phone_key"] == master.hex()
    with any_db.write() as s:
        identity.register(s, identity.phone_secret(s), PHONE, device="t", now=clock.now())

    new_process(any_db)  # a process that was not given the file
    with pytest.raises(identity.SecretMoved), any_db.write() as s:
        identity.phone_secret(s)
    assert identity.PHONE_KEY not in settings(any_db)

    path.rename(tmp_path / "elsewhere.json")  # the file lost
    with pytest.raises(ConfigError, match="restore"):
        secret_file.adopt(any_db, path, now=clock.now())
    secret_file.write_file(path, {"phone_key": "00" * 32})  # another key
    with pytest.raises(ConfigError, match="another phone key"):
        secret_file.adopt(any_db, path, now=clock.now())
    os.replace(tmp_path / "elsewhere.json", path)  # restored
    assert secret_file.adopt(any_db, path, now=clock.now()) == master


def test_crash_after_the_file_was_written_keeps_the_key(any_db: Database, clock: FakeClock,
                                                        tmp_path: Path, forget: None) -> None:
    with any_db.write() as s:
        identity.phone_secret(s)
    old_hex = settings(any_db)[identity.PHONE_KEY]
    path = tmp_path / "hub-secrets.json"
    secret_file.write_file(path, {"phone_key": old_hex, "other": "kept"})  # then "crashed"
    assert secret_file.adopt(any_db, path, now=clock.now()).hex() == old_hex
    assert json.loads(path.read_text()) == {"phone_key": old_hex, "other": "kept"}
    new_process(any_db)
    secret_file.write_file(path, {"phone_key": "11" * 32})
    with any_db.write() as s:  # a database key and a different file key: refuse to choose
        s.add(Setting(key=identity.PHONE_KEY, value=old_hex))
    with pytest.raises(ConfigError, match="another phone key"):
        secret_file.adopt(any_db, path, now=clock.now())


def test_the_hub_process_moves_its_key_and_finds_customers_after_a_restart(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    data = tmp_path / "data"
    hub = HubProcess(url, str(data)).wait_ready()
    try:
        with httpx.Client(base_url=hub.url, timeout=10) as c:
            b = ok(c.post("/api/v1/businesses", json={"name": "Cafe"}, headers=ADMIN_H), 201)
            cust = ok(c.post("/api/v1/customers", headers=ADMIN_H,
                             json={"phone": PHONE, "consent": True, "businesses": [b["id"]]}),
                      201)
    finally:
        hub.stop()
    path = data / "hub-secrets.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    db = Database.connect(url)
    try:
        assert identity.PHONE_KEY not in settings(db)
        assert identity.PHONE_KEY_MOVED in settings(db)
    finally:
        db.dispose()
    hub = HubProcess(url, str(data)).wait_ready()
    try:
        with httpx.Client(base_url=hub.url, timeout=10) as c:
            found = ok(c.post("/api/v1/kiosk/identify", headers=ADMIN_H,
                              json={"phone": PHONE}))
            assert found["customer"] == cust["customer"]
    finally:
        hub.stop()
    assert PHONE not in hub.log()
    os.remove(path)  # the file lost: the hub refuses to start rather than make a new key
    hub = HubProcess(url, str(data))
    with pytest.raises(RuntimeError, match="restore"):
        hub.wait_ready()
    hub.stop()
