"""`ledger webhooks deliveries`: a partner's deliveries as a table; refusals in one line,
exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aggregates.base import SYSTEM
from service.commands.lines import ProvisionLine
from service.commands.partners import CreatePartner
from service.commands.webhooks import RegisterWebhookEndpoint
from service.ops.cli import app
from service.runtime.bootstrap import Ledger
from service.webhooks.deliverer import Deliverer
from tests.conftest import ADMIN_TOKEN
from tests.webhook_receiver import Receiver


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_CLOCK", "manual")
    monkeypatch.setenv("PORTAL_ADMIN_TOKEN", ADMIN_TOKEN)
    return CliRunner()


def test_deliveries_are_listed_and_bad_arguments_refused(ledger: Ledger, cli: CliRunner) -> None:
    receiver = Receiver().start()
    deliverer = Deliverer(ledger)
    try:
        partner = ledger.execute(CreatePartner(name="Cli", currency="USD",
                                               billing_anchor_day=1, pricing={
                                                   "structure": "standard",
                                                   "unit_amount": 100}), actor=SYSTEM)
        endpoint, _ = ledger.execute(RegisterWebhookEndpoint(
            partner_id=partner.id, url=receiver.url, event_types=("*",), description=None),
            actor=SYSTEM)
        ledger.execute(ProvisionLine(partner_id=partner.id), actor=SYSTEM)
        deliverer.allow_private = True
        deliverer.drain()
        receiver.wait_for(1)
    finally:
        deliverer.close()
        receiver.stop()

    result = cli.invoke(app, ["webhooks", "deliveries", "--partner", str(partner.id)])
    assert result.exit_code == 0, result.output
    assert str(endpoint.id) in result.stdout
    assert "line.provisioned" in result.stdout and "delivered" in result.stdout

    for args in (["--partner", "nope"], ["--partner", "00000000-0000-4000-8000-000000000000"],
                 ["--partner", str(partner.id), "--endpoint", "x"]):
        refused = cli.invoke(app, ["webhooks", "deliveries", *args])
        assert refused.exit_code == 2, (args, refused.output)
        assert "Traceback" not in refused.output
        assert len(refused.stderr.strip().splitlines()) <= 2  # the database line, the error
