"""The phone secret in a file outside the database (``[hub] secrets_file``).

The phone secret hashes and encrypts customers' numbers and emails; kept in ``hub_settings`` a
stolen database (or backup) decrypts itself. At start the hub moves it to a JSON file of mode
0600 (default ``hub-secrets.json`` in the data directory) and from then on reads it from there:

- a hub with the key still in ``hub_settings`` writes it to the file (atomically, verified by
  reading it back), then deletes the row and adds a ``phone_key_moved`` row (its fingerprint, the
  time, the path) in one transaction: a crash in between leaves the key in both places, never in
  neither;
- a new hub makes the key in the file;
- a hub whose row says "moved" but whose file is missing or holds another key refuses to start
  (a new key would make every customer unfindable), as does a file that disagrees with the row.

Hub replicas on one PostgreSQL need the same file each: copy it when adding a replica.
The salt of imported-code hashes stays in the database: gates receive it in their replica anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import datetime
from pathlib import Path

from hub.db import Database
from hub.loyalty import identity
from hub.models import Setting
from venue.errors import ConfigError

FILE_KEY = "phone_key"


def fingerprint(master: bytes) -> str:
    """A short hash that names a key without revealing it (in the moved-marker row)."""
    return hashlib.sha256(b"venue phone key fingerprint" + master).hexdigest()[:16]


def read_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"hub.secrets_file {path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"hub.secrets_file {path}: expected a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def write_file(path: Path, data: dict[str, str]) -> None:
    """Write atomically with mode 0600 (a temp file renamed over), then read it back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    if read_file(path) != data:
        raise ConfigError(f"hub.secrets_file {path}: written but reads back differently")


def adopt(db: Database, path: Path, *, now: datetime) -> bytes:
    """Make ``path`` the home of the phone secret of ``db`` (moving it there once) and use it.

    Returns:
        The master key (also registered with :func:`hub.loyalty.identity.use_master`).

    Raises:
        ConfigError: the key was moved but the file lacks it or holds another one, or the file
            and the database hold different keys.
    """
    path = Path(path)
    with db.write() as s:
        row = s.get(Setting, identity.PHONE_KEY)
        moved = s.get(Setting, identity.PHONE_KEY_MOVED)
        data = read_file(path)
        in_file = data.get(FILE_KEY)
        if row is not None:
            if in_file is not None and in_file != row.value:
                raise ConfigError(f"hub.secrets_file {path} holds another phone key than the "
                                  "database: refusing to choose (restore the right file)")
            if in_file is None:
                write_file(path, {**data, FILE_KEY: row.value})
            master_hex = row.value
            s.delete(row)
        elif moved is not None:
            if in_file is None:
                raise ConfigError(f"the phone key was moved out of the database "
                                  f"({moved.value}); {path} does not hold it: restore that file")
            master_hex = in_file
        elif in_file is not None:
            master_hex = in_file
        else:
            master_hex = secrets.token_hex(32)
            write_file(path, {**data, FILE_KEY: master_hex})
        master = bytes.fromhex(master_hex)
        marker = json.dumps({"fingerprint": fingerprint(master), "file": str(path),
                             "at": now.isoformat()})
        if moved is None:
            s.add(Setting(key=identity.PHONE_KEY_MOVED, value=marker))
        else:
            was = json.loads(moved.value).get("fingerprint")
            if was != fingerprint(master):
                raise ConfigError(f"{path} holds another phone key than the one moved out of "
                                  f"the database (fingerprint {was}): restore the right file")
    identity.use_master(db, master)
    return master
