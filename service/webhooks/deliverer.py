"""The webhook delivery runner: at least once, in event order per endpoint, never in a
request.

Each pass (every `PORTAL_WEBHOOK_POLL_SECONDS`, in its own thread):
1. fan-out: for every enabled endpoint, the partner's public events after the endpoint's
   position (projections/public_events.py) that match its types become pending
   deliveries, and the position moves on, in one transaction per endpoint;
2. dispatch: every endpoint whose oldest pending delivery is due gets one task on a
   bounded pool. The task takes the endpoint's lease (one process at a time delivers an
   endpoint, so order holds across processes), sends its due deliveries oldest first and
   stops at the first failure, whose retry is set on the delivery (`next_attempt_at`, the
   due-timer of that endpoint's queue): a dead endpoint costs one short attempt per
   retry, never a waiting thread, and never holds up another endpoint or partner.

A delivery is recorded as delivered only after a 2xx answer, so a crash between the
answer and the record sends it again (at least once; receivers dedupe on `webhook-id`,
the public event's id). Retries back off exponentially with jitter from
`PORTAL_WEBHOOK_RETRY_BASE_SECONDS` up to `..._CAP_SECONDS`; once a delivery has failed for
`PORTAL_WEBHOOK_GIVE_UP_HOURS` it is marked failed, the endpoint disabled, and a
`job_failed` alert raised on the partner. Schedules use the service clock (a manual clock
moves them in tests); the `webhook-timestamp` header is the wall clock, as receivers check
it against theirs.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from standardwebhooks import Webhook

from aggregates.base import policy_actor
from projections import public_events
from projections import webhook_deliveries as store
from projections import webhook_endpoints as endpoints_view
from projections.times import from_stored
from service.commands.alerts import RecordJobFailure
from service.commands.webhooks import DisableWebhookEndpoint
from service.runtime.partition_health import PartitionUnavailable
from service.webhooks.safety import AddressRefused, resolve

if TYPE_CHECKING:
    from service.runtime.bootstrap import Ledger
    from service.runtime.partitions import Cluster
    from service.runtime.settings import Settings

log = logging.getLogger(__name__)
ACTOR = policy_actor("webhooks")
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a 2xx within 10 s is delivered
BODY_LIMIT = 4096  # bytes of an answer read at most (only the status matters)
FAN_OUT_BATCH = 500
BURST = 200  # deliveries one task sends before it lets other endpoints' tasks run
BATCH = 50  # deliveries read from an endpoint's queue at once


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(attempt: int, *, base: float, cap: float) -> timedelta:
    """The wait after the `attempt`-th failure: exponential, capped, with jitter (between
    half and all of it), so endpoints that failed together do not retry together."""
    delay = min(cap, base * 2 ** min(attempt - 1, 40))
    return timedelta(seconds=delay * (0.5 + random.random() / 2))


def sign(secrets: list[str], *, msg_id: str, at: datetime, body: str) -> str:
    """Standard Webhooks signatures, one per live secret, space-separated (during a
    rotation the old secret signs too, so receivers may switch at their pace)."""
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)


class Deliverer:
    """Delivers one event store's webhooks (a partitioned service runs one per store)."""

    def __init__(self, ledger: Ledger, *, client: httpx.Client | None = None,
                 settings: Settings | None = None,
                 current: Callable[[], Ledger] | None = None) -> None:
        # `current`: the store as the deployment holds it now. A partition that was down at
        # start is a stand-in until its server answers, then the built store replaces it.
        settings = settings or ledger.settings
        self._current: Callable[[], Ledger] = current or (lambda: ledger)
        self.allow_private = settings.webhook_allow_private
        self.base = settings.webhook_retry_base_seconds
        self.cap = settings.webhook_retry_cap_seconds
        self.give_up = timedelta(hours=settings.webhook_give_up_hours)
        self.poll = settings.webhook_poll_seconds
        self.lease_ms = int(settings.webhook_lease_seconds * 1000)
        self.owner = f"{uuid.uuid4().hex}"
        self.client = client or httpx.Client(
            timeout=TIMEOUT, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=settings.webhook_concurrency * 2),
            headers={"user-agent": "PartnerLedger-Webhooks/1"})
        self.pool = ThreadPoolExecutor(settings.webhook_concurrency,
                                       thread_name_prefix="webhook")
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop ------------------------------------------------------------------------------

    @classmethod
    def following(cls, cluster: Cluster, index: int) -> Deliverer:
        """The runner of the cluster's `index`-th store, whichever object holds it now."""
        return cls(cluster.ledgers[index], settings=cluster.settings,
                   current=lambda: cluster.ledgers[index])

    @property
    def ledger(self) -> Ledger:
        return self._current()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="webhook-runner",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except PartitionUnavailable as error:  # its guard logged it; taken up when back
                log.debug("webhook pass skipped: %s", error)
            except Exception as error:  # the next pass tries again
                log.error("webhook pass failed: %s", error, exc_info=error)
            self._stop.wait(self.poll)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def tick(self) -> int:
        """One pass: fan out new events, dispatch every due endpoint; answers the number of
        endpoints dispatched."""
        self.fan_out()
        return self.dispatch()

    def drain(self) -> None:
        """Fans out and sends everything due now, in this thread (tests, benchmarks)."""
        self.fan_out()
        for endpoint_id in self._due_endpoints():
            self._deliver(endpoint_id)

    # -- fan-out ---------------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Cuts deliveries for every enabled endpoint; answers how many events were read."""
        read_model = self.ledger.read_model
        endpoints = read_model.read(endpoints_view.enabled)
        total = 0
        for endpoint in endpoints:
            wid, pid = endpoint["id"], endpoint["partner_id"]
            types = json.loads(endpoint["event_types"])
            with read_model.reading() as sql:
                key = sql.scalar("SELECT feed_key FROM s_webhook_cursors WHERE endpoint_id = ?",
                                 wid)
                after = max(int(key) if key is not None else 0, endpoint["from_key"])
                rows = public_events.after(sql, partner_id=pid, after_key=after,
                                           limit=FAN_OUT_BATCH)
            if not rows and key is not None:
                continue
            with read_model.writing() as sql:
                store.cursor(sql, endpoint_id=wid, from_key=endpoint["from_key"])
                if rows:
                    store.cut(sql, endpoint_id=wid, partner_id=pid,
                              rows=[r for r in rows if public_events.matches(types, r["type"])],
                              reached=rows[-1]["key"], now=self.ledger.clock.now())
            total += len(rows)
        return total

    # -- dispatch ----------------------------------------------------------------------------------

    def _due_endpoints(self) -> list[str]:
        now = self.ledger.clock.now()
        heads = self.ledger.read_model.read(store.heads)
        return [h["endpoint_id"] for h in heads
                if h["next_attempt_at"] is None or from_stored(h["next_attempt_at"]) <= now]

    def dispatch(self) -> int:
        count = 0
        for endpoint_id in self._due_endpoints():
            with self._lock:
                if endpoint_id in self._in_flight:
                    continue
                self._in_flight.add(endpoint_id)
            try:
                self.pool.submit(self._task, endpoint_id)
            except RuntimeError:  # the pool is shutting down
                with self._lock:
                    self._in_flight.discard(endpoint_id)
                return count
            count += 1
        return count

    def _task(self, endpoint_id: str) -> None:
        try:
            self._deliver(endpoint_id)
        except Exception as error:  # isolated: the endpoint is tried again next pass
            log.error("webhook delivery to endpoint %s failed: %s", endpoint_id, error,
                      exc_info=error)
        finally:
            with self._lock:
                self._in_flight.discard(endpoint_id)

    # -- one endpoint's queue ----------------------------------------------------------------------

    def _lease(self, endpoint_id: str, *, now: datetime) -> list[str] | None:
        """Takes (or renews) the endpoint's lease; answers the secrets to sign with (read
        in the same transaction), or None while another process holds the lease."""
        now_ms = int(time.time() * 1000)
        with self.ledger.read_model.writing() as sql:
            if not store.lease(sql, endpoint_id=endpoint_id, owner=self.owner, now_ms=now_ms,
                               until_ms=now_ms + self.lease_ms):
                return None
            return store.live_secrets(sql, endpoint_id=endpoint_id, now=now)

    def _queue(self, endpoint_id: str) -> tuple[dict[str, Any] | None,
                                                list[tuple[dict[str, Any], Any]]]:
        """The endpoint, and the head of its queue with each delivery's feed row, in
        event order (one read for a batch of deliveries)."""
        with self.ledger.read_model.reading() as sql:
            endpoint = sql.one("SELECT * FROM v_webhook_endpoints WHERE id = ?", endpoint_id)
            rows = sql.all("SELECT * FROM s_webhook_deliveries WHERE endpoint_id = ? AND "
                           "status = ? ORDER BY event_key LIMIT ?", endpoint_id,
                           store.PENDING, BATCH)
            events = {r["key"]: r for r in sql.all(
                "SELECT * FROM v_public_events WHERE key IN "
                f"({', '.join('?' * len(rows))})", *(r["event_key"] for r in rows))} \
                if rows else {}
        return endpoint, [(r, events.get(r["event_key"])) for r in rows]

    def _deliver(self, endpoint_id: str) -> int:
        """Sends the endpoint's due deliveries in event order until one fails; answers how
        many were delivered."""
        read_model = self.ledger.read_model
        secrets = self._lease(endpoint_id, now=self.ledger.clock.now())
        if secrets is None:
            return 0
        renewed = time.monotonic()
        delivered = 0
        try:
            while delivered < BURST:
                endpoint, queue = self._queue(endpoint_id)
                if endpoint is None or endpoint["status"] != "enabled" or not queue:
                    break
                for delivery, event in queue:
                    now = self.ledger.clock.now()
                    due = delivery["next_attempt_at"]
                    if due is not None and from_stored(due) > now:
                        return delivered
                    if not self._attempt(endpoint, delivery, event, now, secrets):
                        return delivered
                    delivered += 1
                    if time.monotonic() - renewed > self.lease_ms / 3000:
                        # Renewed well before it runs out; None: taken over (we stalled).
                        secrets = self._lease(endpoint_id, now=now)
                        renewed = time.monotonic()
                        if secrets is None:
                            return delivered
                if len(queue) < BATCH:
                    break
        finally:
            with read_model.writing() as sql:
                store.release(sql, endpoint_id=endpoint_id, owner=self.owner)
        return delivered

    def _attempt(self, endpoint: dict[str, Any], delivery: dict[str, Any],
                 event: dict[str, Any] | None, now: datetime, secrets: list[str]) -> bool:
        if event is None:
            outcome = Outcome(None, "the event is not in the feed (views being rebuilt?)")
        elif not secrets:
            outcome = Outcome(None, "no signing secret: rotate the endpoint's secret")
        else:
            body = json.dumps(public_events.item(event), separators=(",", ":"))
            outcome = self.send(endpoint["url"], msg_id=delivery["event_id"], body=body,
                                secrets=secrets)
        attempts = len(json.loads(delivery["attempts"])) + 1
        first = from_stored(delivery["first_attempt_at"]) if delivery["first_attempt_at"] \
            else now
        if outcome.delivered:
            status, retry_at = store.DELIVERED, None
        elif now - first >= self.give_up:
            status, retry_at = store.FAILED, None
        else:
            status, retry_at = store.PENDING, now + backoff(attempts, base=self.base,
                                                            cap=self.cap)
        with self.ledger.read_model.writing() as sql:
            store.record_attempt(sql, delivery=delivery, at=now, status_code=outcome.status_code,
                                 error=outcome.error, status=status, next_attempt_at=retry_at)
        if status == store.FAILED:
            self._give_up(endpoint, delivery, outcome, now)
        return outcome.delivered

    def _give_up(self, endpoint: dict[str, Any], delivery: dict[str, Any], outcome: Outcome,
                 now: datetime) -> None:
        reason = (f"deliveries failed for {self.give_up} (last: "
                  f"{outcome.error or f'HTTP {outcome.status_code}'})")
        pid, wid = UUID(endpoint["partner_id"]), UUID(endpoint["id"])
        log.warning("webhook endpoint %s of partner %s disabled: %s", wid, pid, reason)
        self.ledger.execute(DisableWebhookEndpoint(partner_id=pid, endpoint_id=wid,
                                                   reason=reason), actor=ACTOR)
        self.ledger.execute(RecordJobFailure(
            partner_id=pid, job=f"webhook_endpoint:{wid}",
            error=f"endpoint {endpoint['url']} disabled: {reason}", at=now), actor=ACTOR)
        self.ledger.caught_up()

    # -- the HTTP request ------------------------------------------------------------------------

    def send(self, url: str, *, msg_id: str, body: str, secrets: list[str]) -> Outcome:
        """POSTs one signed delivery; never raises (the outcome says what went wrong)."""
        try:
            target = resolve(url, allow_private=self.allow_private)
        except AddressRefused as refused:
            return Outcome(None, str(refused))
        at = datetime.now(UTC)
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(int(at.timestamp())),
                   "webhook-signature": sign(secrets, msg_id=msg_id, at=at, body=body),
                   "host": target.host_header}
        extensions = {"sni_hostname": target.server_name} if url.startswith("https:") else {}
        deadline = time.monotonic() + TIMEOUT.read  # type: ignore[operator]
        try:
            with self.client.stream("POST", target.url, content=body.encode(),
                                    headers=headers, extensions=extensions) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= BODY_LIMIT or time.monotonic() > deadline:
                        break
                return Outcome(response.status_code, None if 200 <= response.status_code
                               < 300 else f"HTTP {response.status_code}")
        except httpx.TimeoutException:
            return Outcome(None, "timed out")
        except httpx.HTTPError as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:300])
