"""A GET's key check rides on its first view read (PostgreSQL; service/api/key_checks.py):
a key revoked by another process is still refused on its very next request, whatever the
GET reads or fails with, and a live key's answers are the ones it always had."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.bootstrap import Ledger
from tests.api.conftest import ADMIN, bearer, make_portal
from tests.api.helpers import assert_problem
from tests.conftest import start_ledger

MISSING = "00000000-0000-4000-8000-000000000000"


class CountingRecorder:
    """The key cache's recorder, counting the key checks asked on their own."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.asked = 0

    def select_events(self, *args: Any, **kwargs: Any) -> Any:
        self.asked += 1
        return self.recorder.select_events(*args, **kwargs)


def _key(client: TestClient, pid: str, name: str) -> dict[str, Any]:
    made = client.post(f"/v1/partners/{pid}/api-keys", headers=ADMIN,
                       json={"role": "admin", "name": name})
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_key_revoked_elsewhere_is_refused_on_its_next_get_whatever_it_reads(
        client: TestClient, ledger: Ledger, database_url: str) -> None:
    pid = make_portal(client).partner_id
    doomed, kept = _key(client, pid, "doomed"), _key(client, pid, "kept")
    gets = {  # a view read; the event store only; a 404 after a read; a 422 before any
        "overview": f"/v1/partners/{pid}/lines/overview",
        "payment methods": f"/v1/partners/{pid}/payment-methods",
        "missing line": f"/v1/partners/{pid}/lines/{MISSING}",
        "bad limit": f"/v1/partners/{pid}/lines?limit=0",
    }
    second = start_ledger(database_url)
    counting = CountingRecorder(second.app.keys._recorder)
    second.app.keys._recorder = counting  # type: ignore[assignment]  # a counting proxy
    try:
        with TestClient(create_app(second, run_scheduler=False),
                        raise_server_exceptions=False) as elsewhere:
            def each(key: dict[str, Any]) -> dict[str, Any]:
                return {name: elsewhere.get(path, headers=bearer(key["token"]))
                        for name, path in gets.items()}

            before, kept_before = each(doomed), each(kept)
            asked = counting.asked
            overview = elsewhere.get(gets["overview"], headers=bearer(kept["token"]))
            overview_asked = counting.asked - asked
            revoked = client.delete(f"/v1/partners/{pid}/api-keys/{doomed['id']}",
                                    headers=ADMIN)
            after = each(doomed)
            still = each(kept)
    finally:
        second.close()

    assert [r.status_code for r in before.values()] == [200, 200, 404, 422]
    assert revoked.status_code == 204, revoked.text
    for answer in after.values():
        assert_problem(answer, 401, "unauthorized")
    assert [r.status_code for r in kept_before.values()] == [200, 200, 404, 422]
    assert {name: r.status_code for name, r in still.items()} == {
        "overview": 200, "payment methods": 200, "missing line": 404, "bad limit": 422}
    assert still["missing line"].json() == kept_before["missing line"].json()
    assert still["overview"].json() == before["overview"].json() == overview.json()
    # A known key's check on PostgreSQL is asked on the view read's own connection.
    assert overview_asked == (0 if ledger.read_model.postgres else 1)
