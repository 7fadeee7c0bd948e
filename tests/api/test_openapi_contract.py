"""The typed contract: /openapi.json names the schema of every JSON answer (partner,
issued key, line, sub-account, invoice, audit event, ...), and a client generated from it
(openapi-python-client) drives a short scenario through the service."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from service.api.app import create_app
from service.runtime.bootstrap import Ledger
from tests.conftest import ADMIN_TOKEN, start_ledger

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def sqlite_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    ledger = start_ledger(f"sqlite:///{tmp_path_factory.mktemp('contract') / 'ledger.db'}")
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def schema(sqlite_ledger: Ledger) -> dict[str, Any]:
    return create_app(sqlite_ledger, run_scheduler=False).openapi()


RESOURCE_ROUTES = {
    ("post", "/v1/partners"): "Partner",
    ("get", "/v1/partners/{pid}"): "Partner",
    ("put", "/v1/partners/{pid}/pricing"): "Partner",
    ("post", "/v1/api-keys"): "IssuedKey",
    ("post", "/v1/partners/{pid}/api-keys"): "IssuedKey",
    ("post", "/v1/partners/{pid}/lines"): "Line",
    ("post", "/v1/partners/{pid}/lines/{lid}/assign"): "Line",
    ("post", "/v1/partners/{pid}/lines/{lid}/move-request/approve"): "Line",
    ("post", "/v1/partners/{pid}/sub-accounts"): "SubAccount",
    ("post", "/v1/partners/{pid}/sub-accounts/{sid}/merge-request/cancel"): "SubAccount",
}


def test_the_resources_answers_name_their_schema(schema: dict[str, Any]) -> None:
    named = {}
    for method, path in RESOURCE_ROUTES:
        answers = schema["paths"][path][method]["responses"]
        code = next(c for c in answers if c.startswith("2"))
        named[(method, path)] = answers[code]["content"]["application/json"]["schema"]

    assert named == {route: {"$ref": f"#/components/schemas/{model}"}
                     for route, model in RESOURCE_ROUTES.items()}
    line = schema["components"]["schemas"]["Line"]
    assert set(line["required"]) == {"id", "phone_number", "status", "sending",
                                     "sub_account_id", "flag_reason",
                                     "requested_sub_account_id", "created_at", "updated_at"}


# The 2xx answers that are not JSON, each by its media type or status: documents, and
# the answers with no body.
NOT_JSON = {
    ("get", "/v1/partners/{pid}/invoices/{iid}/pdf", "200"): ("application/pdf",),
    ("get", "/v1/partners/{pid}/invoices/{iid}/statement", "200"): ("application/pdf",
                                                                     "text/csv"),
    ("delete", "/v1/api-keys/{kid}", "204"): (),
    ("delete", "/v1/partners/{pid}/api-keys/{kid}", "204"): (),
    ("delete", "/v1/partners/{pid}/payment-methods/{mid}", "204"): (),
    ("delete", "/v1/partners/{pid}/discounts/{did}", "204"): (),
    ("delete", "/v1/partners/{pid}/webhook-endpoints/{wid}", "204"): (),
}


def _named(schema: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    """The component a JSON answer's schema names, if it names one."""
    ref = answer.get("$ref", "")
    prefix = "#/components/schemas/"
    return schema["components"]["schemas"].get(ref[len(prefix):]) if ref.startswith(
        prefix) else None


def test_every_json_answer_has_a_schema(schema: dict[str, Any]) -> None:
    untyped, not_json = [], {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                content = answer.get("content", {})
                if "application/json" not in content:
                    not_json[(method, path, code)] = tuple(sorted(content))
                    continue
                model = _named(schema, content["application/json"].get("schema", {}))
                if model is None or not model.get("properties"):
                    untyped.append((method, path, code))

    assert untyped == []
    assert not_json == NOT_JSON


def test_one_invoice_model_answers_list_read_and_corrections(schema: dict[str, Any]) -> None:
    def answer(method: str, path: str) -> dict[str, Any]:
        answers = schema["paths"][path][method]["responses"]
        code = next(c for c in answers if c.startswith("2"))
        return dict(answers[code]["content"]["application/json"]["schema"])

    invoice = {"$ref": "#/components/schemas/Invoice"}
    base = "/v1/partners/{pid}/invoices"
    assert [answer(*route) for route in [("get", base + "/{iid}"), ("post", base + "/{iid}/pay"),
                                         ("post", base + "/{iid}/void"),
                                         ("post", base + "/{iid}/refunds")]] == [invoice] * 4
    listed = _named(schema, answer("get", base))
    assert listed is not None
    assert listed["properties"]["data"]["items"] == invoice
    assert set(listed["required"]) == {"data", "next_cursor"}


@pytest.fixture(scope="module")
def generated(schema: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("client")
    (root / "openapi.json").write_text(json.dumps(schema))
    (root / "config.json").write_text(json.dumps({"post_hooks": [],
                                                  "package_name_override": "ledger_client"}))
    subprocess.run([str(GENERATOR), "generate", "--path", "openapi.json", "--config",
                    "config.json", "--meta", "none", "--output-path", "ledger_client"],
                   cwd=root, check=True, capture_output=True, timeout=300)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("ledger_client")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == "ledger_client"]:
            del sys.modules[name]


def _call(generated: ModuleType, module: str, http: Any, **kwargs: Any) -> Any:
    endpoint = importlib.import_module(f"ledger_client.api.{module}")
    response = endpoint.sync_detailed(client=http, **kwargs)
    assert 200 <= response.status_code < 300, response.content
    return response.parsed


def test_a_generated_client_drives_partner_lines_invoice_and_audit(
    generated: ModuleType, sqlite_ledger: Ledger,
) -> None:
    models = importlib.import_module("ledger_client.models")
    with TestClient(create_app(sqlite_ledger, run_scheduler=False),
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        http = generated.Client(base_url="http://testserver").set_httpx_client(test_client)

        partner = _call(generated, "partners_and_keys.create_partner_v1_partners_post", http,
                        body=models.PartnerCreate.from_dict({
                            "name": "Generated Resale", "currency": "USD",
                            "billing_anchor_day": 1,
                            "pricing": {"structure": "standard", "unit_amount": 3000}}))
        key = _call(generated,
                    "partners_and_keys.create_partner_key_v1_partners_pid_api_keys_post", http,
                    pid=partner.id,
                    body=models.PartnerKeyCreate.from_dict({"role": "admin", "name": "Client"}))
        test_client.headers["Authorization"] = f"Bearer {key.token}"
        sales = _call(generated, "sub_accounts.create_v1_partners_pid_sub_accounts_post", http,
                      pid=partner.id, body=models.SubAccountCreate.from_dict({"name": "Sales"}))
        line = _call(generated, "lines.provision_v1_partners_pid_lines_post", http,
                     pid=partner.id, body=models.LineProvision.from_dict({}))
        assigned = _call(generated, "lines.assign_v1_partners_pid_lines_lid_assign_post", http,
                         pid=partner.id, lid=line.id,
                         body=models.LineAssign.from_dict({"sub_account_id": sales.id}))
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        _call(generated, "operations.move_clock_v1_admin_clock_post", http,
              body=models.ClockMove.from_dict({"now": "2026-02-01T06:00:00Z"}))
        test_client.headers["Authorization"] = f"Bearer {key.token}"
        invoices = _call(generated, "billing.list_invoices_v1_partners_pid_invoices_get", http,
                         pid=partner.id).to_dict()
        invoice = _call(generated, "billing.get_invoice_v1_partners_pid_invoices_iid_get", http,
                        pid=partner.id, iid=invoices["data"][0]["id"]).to_dict()
        trail = _call(generated, "operations.audit_trail_v1_partners_pid_audit_trail_get", http,
                      pid=partner.id).to_dict()

    assert partner.name == "Generated Resale"
    assert (assigned.id, assigned.sub_account_id, assigned.status) == (line.id, sales.id,
                                                                         "active")
    assert len(invoices["data"]) == 1
    assert invoice["id"] == invoices["data"][0]["id"]
    assert invoice["total"] > 0
    assert len(trail["data"]) >= 4
