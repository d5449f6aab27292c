"""Subjects: builders and parsers agree, and no token can add a level or a wildcard."""

from __future__ import annotations

import pytest

from xorca.contracts.errors import InvalidSubject
from xorca.contracts.subjects import (
    audit_subject,
    check_token,
    command_subject,
    object_subject,
    objects_filter,
    parse_audit_subject,
    parse_command_subject,
    parse_object_subject,
    parse_status_subject,
    status_subject,
)

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "0f3b8d2a-6c1e-4e57-9d0a-5b2c7e8f1a34"


def test_object_subject_round_trip_and_lowercase_class() -> None:
    subject = object_subject(POOL, "VM_guest_metrics", VM)
    assert subject == f"xorca.v1.obj.{POOL}.vm_guest_metrics.{VM}"
    address = parse_object_subject(subject)
    assert (address.pool, address.xapi_class, address.uuid) == (POOL, "vm_guest_metrics", VM)
    assert address.subject == subject


def test_other_subjects_round_trip() -> None:
    assert parse_status_subject(status_subject("entry-1")) == "entry-1"
    assert command_subject(POOL) == f"xorca.v1.cmd.{POOL}"
    assert parse_command_subject(command_subject(POOL)) == POOL
    assert audit_subject(POOL) == f"xorca.v1.audit.{POOL}"
    assert parse_audit_subject(audit_subject(POOL)) == POOL


@pytest.mark.parametrize("bad", ["", "a.b", "a*", ">", "a b", "a\tb", "a\nb", "x\x00", "u" * 257])
def test_bad_tokens_are_refused_everywhere(bad: str) -> None:
    with pytest.raises(InvalidSubject):
        check_token(bad)
    with pytest.raises(InvalidSubject):
        object_subject(bad, "vm", VM)
    with pytest.raises(InvalidSubject):
        object_subject(POOL, "vm", bad)
    with pytest.raises(InvalidSubject):
        command_subject(bad)
    with pytest.raises(InvalidSubject):
        audit_subject(bad)
    with pytest.raises(InvalidSubject):
        status_subject(bad)


@pytest.mark.parametrize("cls", ["", "v.m", "vm*", "1vm", "vm-metrics"])
def test_bad_classes_are_refused(cls: str) -> None:
    with pytest.raises(InvalidSubject):
        object_subject(POOL, cls, VM)


@pytest.mark.parametrize(
    "subject",
    [
        "xorca.v1.obj.pool.vm",  # too short
        f"xorca.v1.obj.{POOL}.vm.{VM}.extra",  # too long
        f"xorca.v2.obj.{POOL}.vm.{VM}",  # another version
        f"xorca.v1.obj.{POOL}.VM.{VM}",  # class not lowercase
        f"xorca.v1.obj.{POOL}.vm.*",  # a wildcard is a filter, not an object
    ],
)
def test_parse_refuses_what_a_builder_never_makes(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        parse_object_subject(subject)


def test_parse_other_subjects_refuse_wrong_shapes() -> None:
    with pytest.raises(InvalidSubject):
        parse_command_subject(f"xorca.v1.cmd.{POOL}.more")
    with pytest.raises(InvalidSubject):
        parse_status_subject(f"xorca.v1.cmd.{POOL}")
    with pytest.raises(InvalidSubject):
        parse_audit_subject("xorca.v1.audit.")


def test_filters() -> None:
    assert objects_filter() == "xorca.v1.obj.>"
    assert objects_filter(POOL) == f"xorca.v1.obj.{POOL}.>"
    assert objects_filter(POOL, "VM") == f"xorca.v1.obj.{POOL}.vm.*"
    assert objects_filter(None, "sr") == "xorca.v1.obj.*.sr.*"
    with pytest.raises(InvalidSubject):
        objects_filter("a.b")
