"""Browser test helpers (importable from tests/web)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageProblems:
    """Console errors and uncaught page errors seen by a page."""

    console: list[str] = field(default_factory=list)
    page: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page.append(str(e)))
        return page
