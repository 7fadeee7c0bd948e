"""A new user's first walk through the API, on both backends."""

from __future__ import annotations

from tests.api.conftest import Portal


def test_a_partner_provisions_assigns_and_sees_its_line_in_the_overview(portal: Portal) -> None:
    sub = portal.ok("POST", "/sub-accounts", json={"name": "Acme – Sales"})
    line = portal.ok("POST", "/lines", json={"phone_number": "+14155550123"})

    assigned = portal.ok("POST", f"/lines/{line['id']}/assign",
                         json={"sub_account_id": sub["id"]})
    overview = portal.ok("GET", "/lines/overview")

    assert assigned["status"] == "active"
    assert overview["counts"]["active"] == 1
    assert overview["by_sub_account"][0]["counts"]["active"] == 1
    assert portal.ok("GET", f"/lines/{line['id']}") == assigned
