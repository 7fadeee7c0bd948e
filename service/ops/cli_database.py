"""What the operator's read commands check before they open the database: that it exists
and holds a ledger (opening creates a missing SQLite file, its folder, a missing PostgreSQL
database and every table; a read must create nothing), and how to name it without its
password."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
from rich.console import Console

from service.runtime.partitions import Cluster, build_cluster
from service.runtime.settings import Settings

EVENTS_TABLE = {"sqlite": "stored_events", "postgres": "ledger_events"}
console = Console(stderr=True)


class NoLedgerDatabase(Exception):
    """The database a read command names does not exist, cannot be reached, or holds no
    ledger."""


def masked_url(url: str) -> str:
    """The URL with its password, if any, replaced by `***`."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    # The hosts are kept as written: a multi-host URL (`h1:5432,h2:5432`) has no one port.
    userinfo, _, hosts = parsed.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunparse(parsed._replace(netloc=f"{user}:***@{hosts}"))


def described(settings: Settings) -> str:
    """The database (password masked) and how many partitions beside it."""
    extra = "" if settings.partitions == 1 else \
        f" and {settings.partitions - 1} more partition URL(s)" if settings.partition_urls else \
        f" and its {settings.partitions - 1} partition sibling(s)"
    return f"{masked_url(settings.database_url)}{extra}"


def require_ledger(settings: Settings) -> None:
    """NoLedgerDatabase unless every partition's database exists and holds the events
    table. Creates nothing: SQLite is opened read-only, PostgreSQL only connected to."""
    for index in range(settings.partitions):
        url = settings.partition(index).database_url
        if url.startswith("sqlite:"):
            _require_sqlite(url)
        else:
            _require_postgres(url)


def _require_sqlite(url: str) -> None:
    path = Path(url.removeprefix("sqlite:///")).expanduser()
    if not path.is_file():
        raise NoLedgerDatabase(f"no database at {url}: {path} does not exist")
    try:
        # Read-only, and closed after (sqlite3's own `with` only ends the transaction).
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (EVENTS_TABLE["sqlite"],)).fetchone()
    except sqlite3.DatabaseError as error:
        raise NoLedgerDatabase(f"cannot read the database at {url}: {error}") from None
    if found is None:
        raise NoLedgerDatabase(f"the database at {url} holds no ledger (no events table)")


def _require_postgres(url: str) -> None:
    shown = masked_url(url)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            found = conn.execute("SELECT to_regclass(%s)", (EVENTS_TABLE["postgres"],)
                                 ).fetchone()
    except psycopg.OperationalError as error:
        # libpq's message names the host and the cause, never the password.
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        reason = first.rpartition("failed: ")[2].removeprefix("FATAL:").strip()
        raise NoLedgerDatabase(f"cannot open the database {shown}: {reason}") from None
    if found is None or found[0] is None:
        raise NoLedgerDatabase(f"the database {shown} holds no ledger (no events table)")


def open_existing(settings: Settings) -> Cluster:
    """The deployment's stores, once `require_ledger` holds; says on stderr which database
    it opened (password masked), so that stdout carries only the command's answer."""
    require_ledger(settings)
    console.print(f"database: {described(settings)}", markup=False, highlight=False,
                  soft_wrap=True)
    return build_cluster(settings)
