"""Unknown `PORTAL_*` environment variables are refused at start: a misspelt setting
(`PORTAL_PARTITION_URL`) would otherwise be ignored without a word, and the service would
start on its default (one partition, on the wrong database)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from service.runtime.settings import Settings

PREFIX = "PORTAL_"
# The test suite's own variables (tests/conftest.py), never read by the service.
IGNORED_PREFIXES = ("PORTAL_TEST_",)


def known_names() -> list[str]:
    return sorted(PREFIX + name.upper() for name in Settings.model_fields)


def unknown_setting(environ: Mapping[str, str]) -> str | None:
    """A one-line refusal naming the first unknown `PORTAL_*` variable of `environ` and
    the closest known name, or None when every one is known."""
    known = known_names()
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper.startswith(IGNORED_PREFIXES) or upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown setting {name}{hint}; known settings: see docs/OPERATIONS.md"
    return None
