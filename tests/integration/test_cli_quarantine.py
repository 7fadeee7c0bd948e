"""`ledger quarantine list|retry` against a real database."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from aggregates.base import Actor
from projections import quarantine, sub_accounts
from service.ops.cli import app
from tests.conftest import ADMIN_TOKEN, start_ledger
from tests.integration.faults import ViewFault, named

OPS = Actor(key_id="ops", role="operations")


def test_the_cli_lists_the_quarantine_and_releases_it_once_the_fault_is_gone(
    database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in (("DATABASE_URL", database_url), ("CLOCK", "manual"),
                        ("ADMIN_TOKEN", ADMIN_TOKEN), ("INLINE_VIEWS", "false")):
        monkeypatch.setenv(f"PORTAL_{name}", value)
    ledger = start_ledger(database_url, inline_views=False)
    cli = CliRunner()
    try:
        partner = ledger.app.create_partner(name="Poisoned", currency="USD",
                                            billing_anchor_day=1, actor=OPS,
                                            pricing={"structure": "standard",
                                                     "unit_amount": 100}).id
        fault = ViewFault(monkeypatch, sub_accounts, named("Poison"))
        ledger.app.create_sub_account(partner_id=partner, name="Poison", actor=OPS)
        ledger.caught_up()
        [failed] = ledger.read_model.read(quarantine.listing, status=quarantine.FAILED)

        listed = cli.invoke(app, ["quarantine", "list"])
        still = cli.invoke(app, ["quarantine", "retry"])
        both = cli.invoke(app, ["quarantine", "retry", "--position", "1",
                                "--partner", str(partner)])
        stranger = cli.invoke(app, ["quarantine", "retry", "--partner", str(uuid.uuid4())])
        fault.remove()
        released = cli.invoke(app, ["quarantine", "retry", "--position",
                                    str(failed["position"])])
        empty = cli.invoke(app, ["quarantine", "list"])

        assert listed.exit_code == 0, listed.output
        fields = listed.stdout.splitlines()[0].split("\t")
        assert fields[:6] == ["0", str(failed["position"]), "failed", str(partner),
                              failed["originator_id"], "SubAccount.Created"]
        assert "injected view fault" in fields[-1]
        assert "2 events in quarantine" in listed.output
        assert still.exit_code == 1, still.output
        assert "still quarantined" in still.output
        assert both.exit_code == 2 and stranger.exit_code == 2
        assert released.exit_code == 0, released.output
        assert "released" in released.output
        assert empty.exit_code == 0 and "nothing in quarantine" in empty.output
        assert ledger.read_model.read(quarantine.count) == 0
    finally:
        ledger.close()
