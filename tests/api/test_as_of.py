"""Months of history: each view's answer recorded as it happened comes back unchanged
through `?as_of=` (a time or a log position), from checkpoints plus replay."""

from __future__ import annotations

from typing import Any

import pytest

from projections import as_of
from projections.times import api_time
from service.runtime.bootstrap import Ledger
from tests.api.conftest import create_partner, platform_key
from tests.integration.history import months_of_history

VIEWS = ("/lines", "/lines/overview", "/lines/available-pool", "/sub-accounts",
         "/billing/summary", "/billing/upcoming-invoice", "/invoices", "/my-status",
         "/audit-trail?limit=500")
MOMENTS = (12, 40, 75)


def _read(client: Any, headers: dict[str, str], pid: str, view: str,
          as_of_value: str | None = None) -> Any:
    url = f"/v1/partners/{pid}{view}"
    params = {"as_of": as_of_value} if as_of_value else {}
    response = client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("checkpoint_every", [40, 5000])
def test_views_read_as_of_a_past_moment_equal_what_they_showed_then(
    client: Any, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, checkpoint_every: int,
) -> None:
    monkeypatch.setattr(as_of, "CHECKPOINT_EVERY", checkpoint_every)
    auditor = platform_key(client, "auditor")
    recorded: dict[str, dict[str, Any]] = {}
    positions: dict[str, int] = {}
    holder: dict[str, str] = {}

    def record(service: Ledger, day: int) -> None:
        if day in MOMENTS:
            service.caught_up()
            pid = holder.setdefault("pid", _partner_id(service))
            moment = api_time(service.clock.now())
            assert moment is not None
            recorded[moment] = {view: _read(client, auditor, pid, view) for view in VIEWS}
            positions[moment] = service.app.recorder.max_notification_id() or 0

    months_of_history(ledger, months=3, on_day=record)
    pid = holder["pid"]

    for moment, answers in recorded.items():
        for view, answer in answers.items():
            assert _read(client, auditor, pid, view, moment) == answer, (moment, view)
        by_position = _read(client, auditor, pid, "/lines/overview",
                            f"position:{positions[moment]}")
        assert by_position == answers["/lines/overview"]
    if checkpoint_every == 40:
        with ledger.read_model.reading() as sql:
            assert sql.scalar("SELECT COUNT(*) FROM v_checkpoints") > 0


def _partner_id(ledger: Ledger) -> str:
    with ledger.read_model.reading() as sql:
        return str(sql.scalar("SELECT id FROM v_states WHERE kind = 'Partner'"))


def test_a_malformed_as_of_is_a_validation_error(client: Any, ledger: Ledger) -> None:
    auditor = platform_key(client, "auditor")
    pid = create_partner(client)

    response = client.get(f"/v1/partners/{pid}/lines/overview", headers=auditor,
                          params={"as_of": "yesterday"})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
