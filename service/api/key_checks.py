"""A GET's key check on the connection of its first view read (PostgreSQL).

Authenticating a request asks the database one question: has the caller's key any event
after the version this process knows (`service/commands/principals.py`)? Asked on its own,
before the route, that question cost a worker-thread hop, a pool checkout and its
pre-ping, and the select: as much as the view read that followed. For a GET whose key
this process already knows live, the answer is instead asked on the connection of the
request's first view read, just before that read (`projections.read_model.BEFORE_READ`).

Nothing is answered before the key check is settled. Either the first read settled it,
or the authentication middleware settles it on its own (as before) when the route's
answer is about to start, or when the route failed: a route that reads no view, or one
that fails first (a 404, a 422), still answers 401 to a revoked key. A key revoked by
any process is refused on its very next request, as before: the question is asked on
every request, only on another connection, and never earlier than it was.

A GET has no effect for the check to precede (authentication itself records a key's use,
`key_use.seen`, once the key is confirmed). SQLite, keys this process does not know yet,
keys of another partition and the bootstrap token take the path of every other request.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from uuid import UUID

from aggregates.api_key import token_partition
from projections.read_model import ReadModel
from projections.sql import Sql
from service.api.auth import Principal
from service.api.problems import ApiProblem
from service.runtime.bootstrap import Ledger
from service.runtime.partitions import Cluster

SAFE_METHODS = frozenset({"GET", "HEAD"})


class KeyCheck:
    """One request's pending key check: the principal it would be, and once settled,
    either that principal confirmed or the refusal (an exception) to answer with."""

    def __init__(self, *, ledger: Ledger, key_id: UUID, principal: Principal, version: int,
                 recheck: Callable[[], Principal]) -> None:
        self.ledger = ledger
        self.key_id = key_id
        self.principal = principal
        self.version = version
        self._recheck = recheck  # the full authentication, as requests without a check
        self._lock = threading.Lock()
        self._settled = False
        self.refusal: Exception | None = None

    @property
    def settled(self) -> bool:
        return self._settled

    def before_read(self, read_model: ReadModel, sql: Sql) -> None:
        """`BEFORE_READ`: settles the check on this read's connection when it is the
        key's database; raises the refusal, so that the read answers nothing."""
        if read_model is not self.ledger.read_model:
            return
        with self._lock:
            if not self._settled:
                later = sql.one(
                    f"SELECT 1 AS later FROM {read_model.events_table} "
                    "WHERE originator_id = ? AND originator_version > ? LIMIT 1",
                    self.key_id, self.version)
                if later is None:
                    self.ledger.key_use.seen(self.key_id)
                else:  # something happened to the key: ask as every request would
                    self._run_recheck()
                self._settled = True
        if self.refusal is not None:
            raise self.refusal

    def settle_alone(self) -> None:
        """Settles the check with a round trip of its own (no view was read)."""
        with self._lock:
            if not self._settled:
                self._run_recheck()
                self._settled = True

    def _run_recheck(self) -> None:
        try:
            found = self._recheck()
        except Exception as refusal:  # a 401, or the key's partition down (503)
            self.refusal = refusal
            return
        if found != self.principal:  # keys never change role or partner: refuse, to be safe
            self.refusal = ApiProblem(401, "unauthorized", "unknown or revoked token")


def pending_check(cluster: Cluster, authorization: str, *, first: Ledger,
                  method: str, recheck: Callable[[], Principal]) -> KeyCheck | None:
    """The check to settle on the first view read of this request, or None when the
    request authenticates as every other does (see the module's docstring)."""
    if method not in SAFE_METHODS:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if hmac.compare_digest(token.encode(), cluster.admin_token.encode()):
        return None
    named = token_partition(token)
    if named is not None and (named >= len(cluster.ledgers)
                              or cluster.ledgers[named] is not first):
        return None
    try:
        if not first.read_model.postgres:
            return None
        known = first.app.keys.known(token)
    except Exception:  # a partition down: the usual path answers it
        return None
    if known is None:
        return None
    key = known.key
    return KeyCheck(ledger=first, key_id=key.id, version=known.version, recheck=recheck,
                    principal=Principal(key_id=str(key.id), role=key.role,
                                        partner_id=key.partner_id))
