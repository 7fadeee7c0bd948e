"""How this service connects to PostgreSQL, on every path: the library's pools, the
start-up lock, creating a partition's database, the operator's checks.

A URL may name several hosts (`postgresql://u:p@db1:5432,db2:5432/ledger?
target_session_attrs=read-write`): libpq tries them in turn and keeps the first that
answers as asked, so a failover (Patroni) needs no new setting. `urllib.parse` cannot
read such a URL (its port is not a number), so libpq's own parser reads it here, and
every parameter the URL carries (`target_session_attrs`, `sslmode`, ...) reaches every
connection. Each connection gives up after `connect_timeout` seconds, so that a server
that is down costs a request seconds, not the TCP timeout's minutes.

Behind pgBouncer in transaction mode a client's statements may run on a different server
connection at each transaction, so server-side prepared statements (which belong to one
server session) break: `prepared_statements=False` turns them off (psycopg's
`prepare_threshold=None`, which also overrides the library's `prepare=True`).
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType, get_topic, strtobool
from psycopg.conninfo import conninfo_to_dict

# Keys of the library's environment that carry what its own keys cannot: the whole URL
# (all libpq parameters), libpq's connect timeout and the prepared-statement switch.
URL_KEY = "LEDGER_POSTGRES_URL"
CONNECT_TIMEOUT_KEY = "LEDGER_POSTGRES_CONNECT_TIMEOUT"
PREPARED_KEY = "LEDGER_POSTGRES_PREPARED_STATEMENTS"
# Parameters the library passes itself (from its own keys) or that we set per connection.
_OWN = {"dbname", "host", "port", "user", "password", "connect_timeout"}


def url_parameters(url: str) -> dict[str, str]:
    """libpq's reading of `url`: dbname, host and port (comma-separated for several hosts),
    user, password and any query parameter. ValueError when libpq cannot read it."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise ValueError(f"not a PostgreSQL URL libpq can read ({reason})") from None
    return {key: str(value) for key, value in params.items() if value is not None}


def connection_kwargs(url: str, *, connect_timeout: int, prepared_statements: bool = True,
                      dbname: str | None = None) -> dict[str, Any]:
    """Keyword arguments for `psycopg.connect` to the database `url` names (or `dbname` on
    the same servers)."""
    kwargs: dict[str, Any] = {**url_parameters(url), "connect_timeout": connect_timeout}
    if dbname is not None:
        kwargs["dbname"] = dbname
    if not prepared_statements:
        kwargs["prepare_threshold"] = None
    return kwargs


def connect(url: str, *, connect_timeout: int, prepared_statements: bool = True,
            dbname: str | None = None, autocommit: bool = False) -> psycopg.Connection[Any]:
    return psycopg.connect(**connection_kwargs(url, connect_timeout=connect_timeout,
                                               prepared_statements=prepared_statements,
                                               dbname=dbname), autocommit=autocommit)


def library_env(url: str, *, connect_timeout: int, prepared_statements: bool,
                pre_ping: bool, create_tables: bool) -> dict[str, str]:
    """The eventsourcing library's environment for the database `url` names, through
    `LedgerPostgresFactory`."""
    params = url_parameters(url)
    return {
        "PERSISTENCE_MODULE": get_topic(LedgerPostgresFactory),
        "POSTGRES_DBNAME": params.get("dbname") or "postgres",
        "POSTGRES_HOST": params.get("host") or "127.0.0.1",
        "POSTGRES_PORT": params.get("port") or "5432",
        "POSTGRES_USER": params.get("user") or "postgres",
        "POSTGRES_PASSWORD": params.get("password") or "",
        # The pool hands out a connection only after a cheap check that it still works:
        # a server that restarted costs no request a stale connection.
        "POSTGRES_PRE_PING": "y" if pre_ping else "n",
        "CREATE_TABLE": "y" if create_tables else "n",
        URL_KEY: url,
        CONNECT_TIMEOUT_KEY: str(connect_timeout),
        PREPARED_KEY: "y" if prepared_statements else "n",
    }


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, whose pool connects with every parameter of the
    URL, libpq's connect timeout and (behind pgBouncer) no prepared statements. The pool
    opens on first use, after these are set."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(URL_KEY)
        if not url:
            return
        extra: dict[str, Any] = {key: value for key, value in url_parameters(url).items()
                                 if key not in _OWN}
        extra["connect_timeout"] = int(self.env.get(CONNECT_TIMEOUT_KEY) or "5")
        if not strtobool(self.env.get(PREPARED_KEY) or "y"):
            extra["prepare_threshold"] = None
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs.update(extra)
