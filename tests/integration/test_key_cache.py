"""Keys remembered per process (service/commands/principals.py) stay exact: a revocation recorded by
one process is refused by another on its very next authentication, on both backends."""

from __future__ import annotations

from uuid import uuid4

from aggregates.api_key import format_token, parse_token
from aggregates.base import Actor
from service.commands.partners import CreatePartner, IssueKey, RevokeKey
from service.commands.principals import KeyCache
from tests.conftest import start_ledger

OPS = Actor(key_id="ops", role="platform:admin")
PRICING = {"structure": "standard", "unit_amount": 1000}


def test_a_key_revoked_in_one_process_is_refused_by_another_at_once(database_url: str) -> None:
    here, there = start_ledger(database_url), start_ledger(database_url)
    try:
        partner = here.execute(CreatePartner(name="Acme", currency="USD", billing_anchor_day=1,
                                             pricing=PRICING), actor=OPS)
        key, token = here.execute(IssueKey(partner_id=partner.id, role="admin", name="k"),
                                  actor=OPS)
        other, other_token = here.execute(IssueKey(partner_id=None, role="support", name="s"),
                                          actor=OPS)
        known_there = there.app.authenticate(token)  # remembered by the other process
        twice_there = there.app.authenticate(token)

        here.execute(RevokeKey(partner_id=partner.id, key_id=key.id), actor=OPS)
        after_there = there.app.authenticate(token)
        after_here = here.app.authenticate(token)
        still = there.app.authenticate(other_token)
        # a key issued after the other process started is found there (nothing unknown is
        # remembered as missing)
        _, late_token = here.execute(IssueKey(partner_id=None, role="auditor", name="a"),
                                     actor=OPS)
        late_there = there.app.authenticate(late_token)
    finally:
        here.close()
        there.close()

    assert known_there is not None and known_there.id == key.id
    assert twice_there is not None and twice_there.role == "admin"
    assert after_there is None
    assert after_here is None
    assert still is not None and still.id == other.id
    assert late_there is not None and late_there.role == "auditor"


def test_the_cache_refuses_wrong_secrets_forgets_unknown_ids_and_stays_bounded(
        database_url: str) -> None:
    ledger = start_ledger(database_url)
    try:
        tokens = [ledger.execute(IssueKey(partner_id=None, role="support", name=f"k{i}"),
                                 actor=OPS)[1] for i in range(3)]
        cache = KeyCache(ledger.app.recorder, ledger.app.keys._load, size=2)
        found = [cache.authenticate(t) for t in tokens + tokens]
        parsed = parse_token(tokens[0])
        assert parsed is not None
        wrong_secret = cache.authenticate(format_token(parsed[0], "not-the-secret"))
        unknown = cache.authenticate(format_token(uuid4(), "whatever"))
        malformed = cache.authenticate("pl_nothex_secret")
        remembered = len(cache._known)
    finally:
        ledger.close()

    assert all(key is not None for key in found)
    assert wrong_secret is None and unknown is None and malformed is None
    assert remembered == 2
