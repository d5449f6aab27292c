"""Malformed records: a translation either gives a JSON-ready object without a single ``None``, or
raises `TranslationError`, and the latter only for records that cannot be objects at all.

Two sources of records (tests/support/record_fuzz.py): made up from scratch (any subset of the
fields translators read, each of any type), and the simulator's real records with fields dropped or
replaced by junk, so that the links between records are real and the translators go deep.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.record_fuzz import (
    CLASSES,
    POOL,
    check,
    damaged,
    linked_records,
    not_records,
    records,
    sim_records,
    sim_refs_of,
)
from xorca.projection.core.records import Raw
from xorca.projection.core.translate import PRIMARY_CLASSES


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from(CLASSES),
    record=records | not_records,
    uuid=st.sampled_from(["", "u-1"]),
    linked=linked_records(),
)
def test_made_up_records(cls: str, record: Any, uuid: str, linked: dict[str, Raw]) -> None:
    def lookup(pool: str, ref: str) -> Raw | None:
        assert pool == POOL
        return linked.get(ref)

    check(Raw(POOL, cls, "OpaqueRef:self", uuid, record), lookup)


# ---- the simulator's records, damaged ------------------------------------------------------------


@pytest.mark.parametrize("cls", sorted(PRIMARY_CLASSES))
@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_simulator_records(cls: str, data: st.DataObject) -> None:
    real = sim_records()
    target = real[data.draw(st.sampled_from(sim_refs_of(cls)))]
    # the object itself and some of what it links to are damaged, the rest is as XAPI gave it
    damaged_links = {
        ref: data.draw(damaged(real[ref]))
        for ref in data.draw(st.lists(st.sampled_from(sim_refs_of(None)), max_size=20))
    }

    def lookup(pool: str, ref: str) -> Raw | None:
        return damaged_links.get(ref) or real.get(ref)

    check(data.draw(damaged(target)), lookup)
