"""A chain link is the digest the chain has always recorded (the stored links stay valid)."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from projections.hash_chain import link


def _parts_one_by_one(previous: str, notification: SimpleNamespace) -> str:
    h = hashlib.sha256()
    for part in (previous, str(notification.id), str(notification.originator_id),
                 str(notification.originator_version), notification.topic):
        h.update(part.encode())
        h.update(b"\x1f")
    h.update(bytes(notification.state))
    return h.hexdigest()


@given(st.text(), st.integers(1, 2**62), st.uuids(), st.integers(1, 10**6), st.text(),
       st.binary())
def test_a_link_hashes_the_same_bytes_as_ever(previous: str, position: int, originator: UUID,
                                              version: int, topic: str, state: bytes) -> None:
    notification = SimpleNamespace(id=position, originator_id=originator,
                                   originator_version=version, topic=topic, state=state)
    assert link(previous, notification) == _parts_one_by_one(previous, notification)
