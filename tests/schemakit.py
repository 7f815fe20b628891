"""Schemathesis' CLI (``st``) against a live hub, one way for every folder that fuzzes its routes.

Each fuzz test seeds a hub under uvicorn, then names path values that exist (so the generated
requests reach past the 404s) and asks for one check: no input gives a server error. One worker:
the coverage phase's Hypothesis internals are not thread-safe on Python 3.11.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from hubkit import make_db, start_server

from hub.db import Database
from venue.clock import SYSTEM_CLOCK


@contextmanager
def fuzz_hub(tmp_path: Path, make_app: Callable[[Database], FastAPI]) -> Iterator[str]:
    """A hub on a fresh SQLite file under uvicorn, on the system clock (time moves as in
    production); yields its URL, stops the server and closes the database on exit."""
    db = make_db(f"sqlite:///{tmp_path / 'hub.sqlite3'}", SYSTEM_CLOCK)
    server = start_server(make_app(db))
    try:
        yield server.url
    finally:
        server.stop()
        db.dispose()


def write_config(path: Path, parameters: dict[str, str | int]) -> Path:
    """Write schemathesis.toml naming a real value for each path parameter (``path.<name>``)."""
    lines = [f"{json.dumps(name)} = {json.dumps(value)}" for name, value in parameters.items()]
    path.write_text("[parameters]\n" + "\n".join(lines) + "\n")
    return path


def run_st(url: str, config: Path, token: str, *, seed: int, max_examples: int, max_time: int,
           paths: str | None = None, timeout: int = 120, extra: tuple[str, ...] = ()) -> str:
    """Run ``st`` over the server's OpenAPI schema; fail unless it passed and generated cases.

    Returns the whole output (callers check which operations it reached).
    """
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    include = ["--include-path-regex", paths] if paths else []
    out = subprocess.run(
        [st, "--no-color", "--config-file", str(config), "run", f"{url}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error", *include,
         "--max-examples", str(max_examples), "--max-time", str(max_time), "--workers", "1",
         "--request-timeout", "20", "--seed", str(seed), *extra],
        capture_output=True, text=True, timeout=timeout)
    tail = out.stdout[-4000:]
    assert out.returncode == 0, tail
    assert "generated" in tail, tail
    return out.stdout
