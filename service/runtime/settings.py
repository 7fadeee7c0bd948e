"""Service settings, read from the environment (prefix `PORTAL_`) and validated at start."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlparse, urlunparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.runtime import pg_connect


def partition_url(url: str, index: int) -> str:
    """The database of partition `index` > 0, beside the one `url` names."""
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///")
        stem, dot, suffix = path.rpartition(".")
        named = f"{stem}.p{index}.{suffix}" if dot and "/" not in suffix else f"{path}.p{index}"
        return f"sqlite:///{named}"
    parsed = urlparse(url)
    database = parsed.path.lstrip("/") or "postgres"
    return urlunparse(parsed._replace(path=f"/{database}_p{index}"))


def _checked_url(url: str, setting: str) -> str:
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        raise ValueError(f"{setting} must start with sqlite:/// or postgresql://")
    if not url.startswith("sqlite:"):
        pg_connect.url_parameters(url)  # a URL libpq cannot read fails here, not at first use
    return url


class Settings(BaseSettings):
    # A rejected value is not repeated in the error: PORTAL_DATABASE_URL holds a password.
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore",
                                      hide_input_in_errors=True)

    database_url: str = "sqlite:///./var/ledger.db"
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    # Where `ledger serve` keeps the token it generates when PORTAL_ADMIN_TOKEN is unset
    # (development only), so a shell can read it: ADMIN=$(cat var/admin-token).
    admin_token_file: str = "var/admin-token"
    clock: Literal["system", "manual"] = "system"
    # Where a manual clock starts on a new database (default: the system time then).
    clock_start: datetime | None = None
    # How often a system-clock service looks for jobs that fell due and for events other
    # processes recorded (seconds).
    tick_seconds: float = Field(default=30.0, gt=0)
    # Whether this process runs the scheduled jobs; API processes behind `ledger project`
    # set it false (the jobs are idempotent either way).
    scheduler: bool = True
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    aggregate_cache_size: int = Field(default=10_000, ge=0)
    # Apply a command's events to the views in the events' own insert transaction (one
    # commit per command; projections/inline.py). Off: the catch-up applies them after.
    inline_views: bool = True
    # Concurrent commands of one process share one insert transaction
    # (service/commands/group_commit.py).
    group_commit: bool = True
    # Partners are spread by a stable hash of their id over this many event stores, each
    # with its own events table, views and tracking (see docs/OPERATIONS.md). Partition 0
    # is the database named by PORTAL_DATABASE_URL; partition i > 0 is its sibling
    # (`<db>_p<i>` on PostgreSQL, `<file>.p<i>.db` on SQLite). Changing the count of a
    # database that holds partners moves them: don't (migrating is not built).
    partitions: int = Field(default=1, ge=1, le=64)
    # One URL per partition, in partition order, on any servers (whitespace-separated, or
    # a JSON list): partition i is the i-th. When set, PORTAL_DATABASE_URL and
    # PORTAL_PARTITIONS may be left out (they are then its first URL and its count).
    partition_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # PostgreSQL connections (service/runtime/pg_connect.py): libpq's connect timeout (seconds), a
    # check of each pooled connection before use, and server-side prepared statements
    # (false behind pgBouncer in transaction mode).
    connect_timeout_seconds: int = Field(default=3, ge=1, le=60)
    pool_pre_ping: bool = True
    prepared_statements: bool = True
    # Serve reads only, from a streaming standby (service/runtime/read_only.py): no table creation,
    # no catch-up, no jobs; commands answer 503 `read_only`.
    read_only: bool = False
    # The auto-flag policy: a line is flagged when one hour of its usage reaches this many
    # volume-limit hits, or answers fewer than this percent of at least this many new
    # conversations.
    autoflag_volume_limit_hits: int = Field(default=10, ge=1)
    autoflag_min_conversations: int = Field(default=20, ge=1)
    autoflag_min_response_rate_percent: Decimal = Field(default=Decimal(5), ge=0, le=100)
    # As-of replicas kept per process (projections/replica_cache.py): at most this many of
    # one partner, this many in all, and this many MiB of replica pages in all.
    as_of_replicas_per_partner: int = Field(default=4, ge=1, le=1000)
    as_of_replicas: int = Field(default=32, ge=1, le=10_000)
    as_of_replica_memory_mb: int = Field(default=256, ge=1)
    # How long an `Idempotency-Key`'s answer is kept and replayed (service clock); then
    # the key may be used again and its row is pruned (service/api/idempotency.py).
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=24 * 365)
    # Payments (docs/OPERATIONS.md, "Payments and reconciliation"). The simulated gateway
    # takes this long over each new charge, like a real gateway's round trip (race tests).
    gateway_delay_ms: int = Field(default=0, ge=0, le=60_000)
    # Wall-clock seconds a payer has to call the gateway once it recorded an attempt, and
    # again for that call to finish; an attempt the gateway never saw is closed after both.
    payment_lease_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # Webhooks (docs/OPERATIONS.md, "Webhooks"). Plain http, and any private or loopback
    # address, only when allowed (development and tests); production sends https to public
    # addresses only.
    webhook_allow_private: bool = False
    # Whether this process delivers webhooks (it does wherever the scheduler runs).
    webhooks: bool = True
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # Retries: exponential from the base, capped, with jitter; after `give_up_hours` of
    # failures the endpoint is disabled and an alert raised.
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=6 * 3600.0, gt=0, le=86_400)
    webhook_give_up_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    # How long a process holds an endpoint's delivery lease without renewing it (it renews
    # after each delivery); a process that died is taken over after this (wall clock).
    webhook_lease_seconds: float = Field(default=60.0, ge=1, le=3600)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        return _checked_url(url, "PORTAL_DATABASE_URL")

    @field_validator("partition_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        # A URL may hold commas (several hosts), so the list is whitespace-separated.
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split()
        return value

    @field_validator("partition_urls")
    @classmethod
    def _partition_urls_known(cls, urls: list[str]) -> list[str]:
        for url in urls:
            _checked_url(url, "PORTAL_PARTITION_URLS")
        if len({url.startswith("sqlite:") for url in urls}) > 1:
            raise ValueError("PORTAL_PARTITION_URLS mixes SQLite and PostgreSQL")
        if len(set(urls)) != len(urls):
            raise ValueError("PORTAL_PARTITION_URLS names one database twice")
        return urls

    @model_validator(mode="after")
    def _one_url_per_partition(self) -> Settings:
        if not self.partition_urls:
            return self
        if "partitions" in self.model_fields_set and self.partitions != len(self.partition_urls):
            raise ValueError(f"PORTAL_PARTITIONS is {self.partitions} but PORTAL_PARTITION_URLS "
                             f"names {len(self.partition_urls)} databases")
        if "database_url" in self.model_fields_set and \
                self.database_url != self.partition_urls[0]:
            raise ValueError("PORTAL_DATABASE_URL differs from the first of "
                             "PORTAL_PARTITION_URLS (leave it out)")
        if len(self.partition_urls) > 64:
            raise ValueError("PORTAL_PARTITION_URLS names more than 64 databases")
        self.partitions = len(self.partition_urls)
        self.database_url = self.partition_urls[0]
        return self

    @model_validator(mode="after")
    def _gateway_within_lease(self) -> Settings:
        # A charge slower than the lease could land after its attempt was closed as never
        # charged.
        if self.gateway_delay_ms >= self.payment_lease_seconds * 1000:
            raise ValueError("PORTAL_GATEWAY_DELAY_MS must be shorter than "
                             "PORTAL_PAYMENT_LEASE_SECONDS")
        return self

    @property
    def is_postgres(self) -> bool:
        return not self.database_url.startswith("sqlite:")

    def partition(self, index: int) -> Settings:
        """These settings for partition `index`: the same service, another database."""
        if not 0 <= index < self.partitions:
            raise ValueError(f"partition {index} of {self.partitions}")
        if index == 0:
            return self
        url = self.partition_urls[index] if self.partition_urls else \
            partition_url(self.database_url, index)
        return self.model_copy(update={"database_url": url})

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing library's environment for our database."""
        if not self.is_postgres:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.database_url.removeprefix("sqlite:///"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        return {
            **pg_connect.library_env(self.database_url,
                                     connect_timeout=self.connect_timeout_seconds,
                                     prepared_statements=self.prepared_statements,
                                     pre_ping=self.pool_pre_ping,
                                     create_tables=not self.read_only),
            "POSTGRES_POOL_SIZE": str(self.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.max_overflow),
            # How long a request waits for a pooled connection (the library's timeout).
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }
