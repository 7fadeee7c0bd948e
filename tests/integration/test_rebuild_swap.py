"""The rebuild's swap (projections/rebuild.py): the rebuilt views take the live ones'
place with the same indexes, leave no scratch schema behind, and the service goes on
writing and reading after it, and its scratch copy is a file removed after it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from aggregates.base import Actor
from projections import lines as lines_view
from projections import rebuild as rebuild_module
from service.commands.lines import PauseSending
from service.runtime.bootstrap import Ledger

OPS = Actor(key_id="ops", role="operations")


def _indexes(ledger: Ledger) -> set[tuple[str, str]]:
    with ledger.read_model.reading() as sql:
        if ledger.read_model.postgres:
            rows = sql.all("SELECT tablename AS t, indexname AS i FROM pg_indexes "
                           "WHERE schemaname = current_schema()")
        else:
            rows = sql.all("SELECT tbl_name AS t, name AS i FROM sqlite_master "
                           "WHERE type = 'index'")
    tables = set(ledger.read_model._rebuilt_tables())
    return {(row["t"], row["i"]) for row in rows if row["t"] in tables}


def test_the_rebuilt_views_replace_the_live_ones_with_their_indexes(ledger: Ledger) -> None:
    app = ledger.app
    pid = app.create_partner(name="Swap", currency="USD", billing_anchor_day=1,
                             pricing={"structure": "standard", "unit_amount": 100},
                             actor=OPS).id
    sub = app.create_sub_account(partner_id=pid, name="Team", actor=OPS).id
    line = app.provision_line(partner_id=pid, phone_number="+12025550111",
                              sub_account_id=sub, actor=OPS).id
    ledger.caught_up()
    indexes = _indexes(ledger)
    for _ in range(8):  # past psycopg's threshold: the read is a prepared statement now
        ledger.read_model.read(lines_view.get_line, partner_id=str(pid), line_id=str(line))

    counts = ledger.processor.rebuild()

    assert counts["lines"] >= 1
    assert _indexes(ledger) == indexes
    if ledger.read_model.postgres:
        with ledger.read_model.reading() as sql:
            assert sql.all("SELECT nspname FROM pg_namespace "
                           "WHERE nspname LIKE ?", "rebuild_%") == []
    ledger.execute(PauseSending(partner_id=pid, line_id=line), actor=OPS)
    view = ledger.read_model.read(lines_view.get_line, partner_id=str(pid),
                                  line_id=str(line))
    assert view is not None and view["sending"] == "paused"


def test_the_scratch_copy_is_a_file_removed_after_the_rebuild_even_a_failed_one(
        ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = ledger.app
    pid = app.create_partner(name="Scratch", currency="USD", billing_anchor_day=1,
                             pricing={"structure": "standard", "unit_amount": 100},
                             actor=OPS).id
    app.create_sub_account(partner_id=pid, name="Team", actor=OPS)
    ledger.caught_up()
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_dir))
    swap_name = "_swap_postgres" if ledger.read_model.postgres else "_swap_sqlite"
    real_swap = getattr(rebuild_module, swap_name)
    during: list[list[str]] = []

    def swap(*args: Any) -> None:
        during.append(sorted(p.name for p in scratch_dir.iterdir()))
        real_swap(*args)

    monkeypatch.setattr(rebuild_module, swap_name, swap)
    counts = ledger.processor.rebuild()

    assert counts["sub_accounts"] >= 1
    assert len(during) == 1 and len(during[0]) == 1
    assert during[0][0].startswith("ledger-rebuild-")
    assert list(scratch_dir.iterdir()) == []

    def failing_swap(*args: Any) -> None:
        raise RuntimeError("the swap failed")

    live = ledger.read_model.read(lambda sql: sql.all("SELECT * FROM v_sub_accounts"))
    monkeypatch.setattr(rebuild_module, swap_name, failing_swap)
    with pytest.raises(RuntimeError, match="the swap failed"):
        ledger.processor.rebuild()

    assert list(scratch_dir.iterdir()) == []
    assert ledger.read_model.read(lambda sql: sql.all("SELECT * FROM v_sub_accounts")) == live
