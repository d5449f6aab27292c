"""A pool's raw records built by hand, for the translation tests: refs are ``OpaqueRef:<name>``
and uuids ``<name>-uuid``, so that every link in an expected object says where it comes from."""

from __future__ import annotations

from typing import Any

from xorca.projection.core.records import ClientObject, Raw
from xorca.projection.core.translate import translate

POOL = "pool-uuid"
NULL = "OpaqueRef:NULL"


class Records:
    """A pool's raw records by ref, and the lookup over them that logs what it was asked."""

    def __init__(self) -> None:
        self.by_ref: dict[str, Raw] = {}
        self.asked: list[str] = []

    def add(self, cls: str, name: str, /, **record: Any) -> Raw:
        raw = Raw(
            POOL, cls, f"OpaqueRef:{name}", f"{name}-uuid", {"uuid": f"{name}-uuid", **record}
        )
        self.by_ref[raw.ref] = raw
        return raw

    def lookup(self, pool: str, ref: str) -> Raw | None:
        self.asked.append(ref)
        return self.by_ref.get(ref) if pool == POOL else None

    def object(self, name: str) -> ClientObject:
        found = translate(self.by_ref[f"OpaqueRef:{name}"], self.lookup)
        assert found is not None
        return found


def ref(name: str) -> str:
    return f"OpaqueRef:{name}"
