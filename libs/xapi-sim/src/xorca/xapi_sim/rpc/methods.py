"""Every method real XAPI dispatches: its wire names, whether it has an ``Async.`` form, takes a
session, is pool-internal or removed, and the parameters its generated dispatcher counts.

The list is ``data/methods.tsv`` (see ``data/README.md``: derived from xen-api's ``ocaml/idl`` with
the server generator's own filters), joined with the datamodel's messages for parameter types. It
is read once per datamodel; the dispatcher then does one dict lookup per call.

Hidden messages (``hidden_from_docs``) are absent from ``xenapi.json``, so their parameters are
not known from it: `HIDDEN_PARAMS` lists those the simulator needs, each from the datamodel
source line it cites (xapi-project/xen-api @ e2ee48d6). A hidden message outside that table gets
``params = None``: the dispatcher then skips its parameter count (it cannot know it) and hands the
arguments over unchecked.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from xorca.xapi.datamodel import Datamodel, MessageDef, Param, parse_type
from xorca.xapi.errors import XapiError

#: (name, datamodel type) of each parameter after ``session_id``; none of these has a default
HIDDEN_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    # ocaml/idl/datamodel.ml:85 slave_login (psecret is a SecretString: a string on the wire)
    "session.slave_login": (("host", "host ref"), ("psecret", "string")),
    # datamodel.ml:117 slave_local_login
    "session.slave_local_login": (("psecret", "string"),),
    # datamodel_pool.ml:358 (bound as ping_slave there)
    "pool.is_slave": (("host", "host ref"),),
    # datamodel_host.ml:364
    "host.is_in_emergency_mode": (),
    # datamodel.ml:4756 and :4779
    "SR.set_virtual_allocation": (("self", "SR ref"), ("value", "int")),
    "SR.set_physical_utilisation": (("self", "SR ref"), ("value", "int")),
    # datamodel.ml:5791, :5824, :5835, :5846, :5858, :5873, :5887, :5903 and :6148
    "VDI.set_missing": (("self", "VDI ref"), ("value", "bool")),
    "VDI.set_managed": (("self", "VDI ref"), ("value", "bool")),
    "VDI.set_virtual_size": (("self", "VDI ref"), ("value", "int")),
    "VDI.set_physical_utilisation": (("self", "VDI ref"), ("value", "int")),
    "VDI.set_is_a_snapshot": (("self", "VDI ref"), ("value", "bool")),
    "VDI.set_snapshot_of": (("self", "VDI ref"), ("value", "VDI ref")),
    "VDI.set_snapshot_time": (("self", "VDI ref"), ("value", "datetime")),
    "VDI.set_metadata_of_pool": (("self", "VDI ref"), ("value", "pool ref")),
    "VDI.set_cbt_enabled": (("self", "VDI ref"), ("value", "bool")),
}
#: every class's get_all_where and get_all_records_where take one string, ``expr``
#: (datamodel_utils.ml:713 and :744)
WHERE_PARAMS: tuple[tuple[str, str], ...] = (("expr", "string"),)
#: hidden ``set_<field>`` messages that xapi implements as the bare database setter
#: (xapi_sr.ml:891 and :897, xapi_vdi.ml:1250-1272), so the generic setter serves them
DB_SETTERS = frozenset(
    {
        "SR.set_virtual_allocation",
        "SR.set_physical_utilisation",
        "VDI.set_missing",
        "VDI.set_managed",
        "VDI.set_virtual_size",
        "VDI.set_physical_utilisation",
        "VDI.set_is_a_snapshot",
        "VDI.set_snapshot_of",
        "VDI.set_snapshot_time",
    }
)


@dataclass(frozen=True, slots=True)
class Method:
    wire: str  # "VM.start"
    cls: str  # "VM", as the datamodel spells it
    name: str  # "start"
    kind: str  # "custom", "getter", "get_all_records_where"… (see data/README.md)
    has_async: bool
    session: bool
    hidden: bool
    removed: bool
    pool_internal: bool
    #: the parameters after ``session_id``; None when not known (see the module docstring)
    params: tuple[Param, ...] | None
    #: how many of them have no default: the count gen_server.ml checks and reports. A default
    #: is xenapi.json's ``required: false``, the datamodel's ``param_default`` (as checked for
    #: session.login_with_password, datamodel.ml:33; pool.disable_external_auth and
    #: pool.uninstall_ca_certificate, datamodel_pool.ml:630 and :897)
    required: int
    #: some parameter has a default: gen_server.ml's pattern then ends in ``:: default_args``,
    #: so any number of arguments beyond the required ones is accepted
    open_ended: bool
    #: the datamodel's declaration; None for hidden messages
    message: MessageDef | None

    def check_count(self, called: str, given: int) -> None:
        """``MESSAGE_PARAMETER_COUNT_MISMATCH [called, expected, received]`` as gen_server.ml's
        ``operation`` builds it: the counts leave the session out and travel as strings; the
        name is the one called, after the ``Async.`` prefix is removed (``__call``)."""
        if self.params is None:
            return
        received = given - 1 if self.session else given
        if received == self.required or (self.open_ended and received > self.required):
            return
        raise XapiError(
            "MESSAGE_PARAMETER_COUNT_MISMATCH", [called, str(self.required), str(received)]
        )


@dataclass(frozen=True, slots=True)
class MethodTable:
    #: every wire name and its ``Class_message`` alias (gen_server.ml matches both)
    by_name: dict[str, Method]
    #: the synchronous wire names, in the file's order: what ``system.listMethods`` answers
    names: tuple[str, ...]


def rows() -> list[dict[str, str]]:
    """The rows of ``data/methods.tsv``."""
    text = resources.files("xorca.xapi_sim").joinpath("data", "methods.tsv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


@cache
def table(dm: Datamodel) -> MethodTable:
    """The method table for ``dm`` (read once: the dispatcher calls this on every call)."""
    by_name: dict[str, Method] = {}
    names: list[str] = []
    for row in rows():
        method = _method(dm, row)
        names.append(method.wire)
        by_name.setdefault(method.wire, method)
        # datamodel_utils.ml alternative_wire_name; the first declared wins, as in the match
        by_name.setdefault(f"{method.cls}_{method.name}", method)
    return MethodTable(by_name, tuple(names))


def _method(dm: Datamodel, row: dict[str, str]) -> Method:
    wire = row["method"]
    cls, _, name = wire.partition(".")
    cdef = dm.classes.get(cls)
    mdef = cdef.messages.get(name) if cdef is not None else None
    session = row["needs_session"] == "true"
    params: tuple[Param, ...] | None
    if mdef is not None:
        params = mdef.params[1:] if mdef.takes_session else mdef.params
    elif row["kind"] in ("get_all_where", "get_all_records_where"):
        params = _declared(WHERE_PARAMS)
    elif wire in HIDDEN_PARAMS:
        params = _declared(HIDDEN_PARAMS[wire])
    else:
        params = None
    required = sum(1 for p in params if p.required) if params is not None else 0
    return Method(
        wire=wire,
        cls=cls,
        name=name,
        kind=row["kind"],
        has_async=row["has_async"] == "true",
        session=session,
        hidden=row["hidden_from_docs"] == "true",
        removed=row["lifecycle"] == "Removed_s",
        pool_internal=row["pool_internal"] == "true",
        params=params,
        required=required,
        open_ended=params is not None and required < len(params),
        message=mdef,
    )


def _declared(params: tuple[tuple[str, str], ...]) -> tuple[Param, ...]:
    return tuple(Param(name, parse_type(type_text), True) for name, type_text in params)
