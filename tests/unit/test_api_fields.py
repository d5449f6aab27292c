"""Field selection (``?fields=``): objects and their merge patches trimmed to chosen paths."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xorca.api.core.fields import (
    ALL_FIELDS,
    MAX_FIELDS,
    MAX_LENGTH,
    Fields,
    FieldsError,
    parse_fields,
)
from xorca.contracts.merge_patch import apply, diff

VM = {
    "id": "vm-1",
    "type": "vm",
    "$pool": "pool-1",
    "$host": "host-a",
    "name_label": "web-01",
    "tags": ["prod"],
    "memory": {"actual": 4096, "static_max": 8192},
    "os": {"name": "Debian", "distro": "debian"},
    "addresses": [{"device": "0", "ip": "10.0.0.5"}, {"device": "1", "ip": "10.0.1.5"}],
    "disks": [{"$vdi": "vdi-1", "device": "xvda"}, {"device": "xvdd"}],
    "current_operations": {},
}


# ---------------------------------------------------------------------------------------------
# Reading a selection


@pytest.mark.parametrize("text", ["", "  ", "*", " * ", "id,*", "*,memory.actual"])
def test_all_fields(text: str):
    fields = parse_fields(text)
    assert fields is ALL_FIELDS
    assert fields is Fields.ALL
    assert fields.is_all
    assert str(fields) == "*"


def test_paths_are_read_and_id_and_type_always_come_first():
    fields = parse_fields(" name_label , memory.actual,$host,os.distro,a-b_c.D9 ")
    assert fields.paths == (
        ("id",),
        ("type",),
        ("name_label",),
        ("memory", "actual"),
        ("$host",),
        ("os", "distro"),
        ("a-b_c", "D9"),
    )
    assert str(fields) == "id,type,name_label,memory.actual,$host,os.distro,a-b_c.D9"
    assert not fields.is_all


def test_repeats_and_paths_inside_others_are_dropped():
    fields = parse_fields("memory.actual,name_label,memory,name_label,id,type.x")
    assert fields.paths == (("id",), ("type",), ("name_label",), ("memory",))
    assert parse_fields(str(fields)) == fields


def test_selections_are_frozen_and_hashable():
    assert parse_fields("a,b.c") == parse_fields("a, b.c")
    assert len({parse_fields("a,b.c"), parse_fields("a,b.c"), parse_fields("a")}) == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id,,name_label", "empty field name"),
        ("id,", "empty field name"),
        (",id", "empty field name"),
        (" , ", "empty field name"),
        ("memory..actual", "empty segment in field path `memory..actual`"),
        (".id", "empty segment"),
        ("memory.", "empty segment"),
        ("name label", "` ` cannot be in a field name"),
        ("memory.*", "`*` cannot be in a field name"),
        ("a:b", "`:` cannot be in a field name"),
        ("nämé", "`ä` cannot be in a field name"),
        (",".join(f"f{i}" for i in range(MAX_FIELDS + 1)), "too many fields: 101, at most 100"),
        ("a" * (MAX_LENGTH + 1), "too long"),
    ],
)
def test_errors(text: str, words: str):
    with pytest.raises(FieldsError) as caught:
        parse_fields(text)
    assert words in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_a_hundred_fields_are_allowed():
    assert len(parse_fields(",".join(f"f{i}" for i in range(MAX_FIELDS))).paths or ()) == 102


# ---------------------------------------------------------------------------------------------
# Objects


def test_all_returns_the_object_itself():
    assert ALL_FIELDS.project(VM) is VM
    patch = {"memory": {"actual": None}}
    assert ALL_FIELDS.project_patch(patch) is patch


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name_label", {"name_label": "web-01"}),
        ("memory.actual", {"memory": {"actual": 4096}}),
        ("memory.actual,memory.static_max", {"memory": {"actual": 4096, "static_max": 8192}}),
        ("memory", {"memory": {"actual": 4096, "static_max": 8192}}),
        ("$host,tags", {"$host": "host-a", "tags": ["prod"]}),
        ("missing,memory.missing", {"memory": {}}),  # absent paths are absent
        ("addresses.ip", {"addresses": [{"ip": "10.0.0.5"}, {"ip": "10.0.1.5"}]}),
        ("disks.$vdi", {"disks": [{"$vdi": "vdi-1"}, {}]}),  # one entry per disk
        ("tags.x", {}),  # a list of strings has no keys
        ("name_label.x", {}),
        ("current_operations", {"current_operations": {}}),
    ],
)
def test_project(text: str, expected: dict[str, Any]):
    before = copy.deepcopy(VM)
    assert parse_fields(text).project(VM) == {"id": "vm-1", "type": "vm", **expected}
    assert before == VM


def test_id_and_type_are_kept_even_when_not_asked_for():
    assert list(parse_fields("name_label").project(VM)) == ["id", "type", "name_label"]
    assert parse_fields("memory").project({"memory": 1}) == {"memory": 1}


def test_values_are_shared_not_copied():
    assert parse_fields("memory").project(VM)["memory"] is VM["memory"]


# ---------------------------------------------------------------------------------------------
# Patches


@pytest.mark.parametrize(
    ("text", "patch", "expected"),
    [
        ("name_label", {"name_label": "x", "tags": []}, {"name_label": "x"}),
        ("name_label", {"tags": []}, {}),
        ("name_label", {"name_label": None}, {"name_label": None}),
        ("memory.actual", {"memory": {"actual": 1, "static_max": 2}}, {"memory": {"actual": 1}}),
        ("memory.actual", {"memory": {"static_max": 2}}, {"memory": {}}),
        ("memory.actual", {"memory": {"actual": None}}, {"memory": {"actual": None}}),
        ("memory.actual", {"memory": None}, {"memory": None}),
        # `memory` replaced by a value with nothing selected in it: removed
        ("memory.actual", {"memory": 5}, {"memory": None}),
        ("memory.actual", {"memory": "x"}, {"memory": None}),
        ("memory.actual", {"memory": [1, 2]}, {"memory": None}),
        # lists are replaced whole: trimmed like an object's
        (
            "addresses.ip",
            {"addresses": [{"device": "0", "ip": "10.0.0.9"}]},
            {"addresses": [{"ip": "10.0.0.9"}]},
        ),
        ("addresses.ip", {"addresses": []}, {"addresses": []}),
        ("memory", {"memory": {"actual": None, "x": 1}}, {"memory": {"actual": None, "x": 1}}),
        ("id,type", {"type": "vm-template", "name_label": "t"}, {"type": "vm-template"}),
    ],
)
def test_project_patch(text: str, patch: dict[str, Any], expected: dict[str, Any]):
    fields = parse_fields(text)
    assert fields.project_patch(patch) == expected
    # and it is the change the client sees
    assert apply(fields.project(VM), fields.project_patch(patch)) == fields.project(
        apply(VM, patch)
    )


# Documents over a few keys, so that selections, objects and patches meet often
KEYS = ["id", "type", "a", "b", "c"]
scalars = st.one_of(st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "y"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=10,
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
patch_values = st.recursive(
    st.one_of(st.none(), scalars, st.lists(values, max_size=3)),
    lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=10,
)
patches = st.dictionaries(st.sampled_from(KEYS), patch_values, max_size=5)
selections = st.lists(
    st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(".".join), max_size=4
).map(",".join)


@settings(max_examples=500)
@given(objects, patches, selections)
def test_a_trimmed_patch_makes_the_trimmed_object(
    old: dict[str, Any], patch: dict[str, Any], text: str
):
    fields = parse_fields(text)
    assert fields.project(apply(old, patch)) == apply(
        fields.project(old), fields.project_patch(patch)
    )


@settings(max_examples=300)
@given(objects, objects, selections)
def test_the_same_with_patches_made_by_diff(old: dict[str, Any], new: dict[str, Any], text: str):
    fields = parse_fields(text)
    patch = diff(old, new)
    assert fields.project(new) == apply(fields.project(old), fields.project_patch(patch))


@given(objects, selections)
def test_projecting_twice_changes_nothing(obj: dict[str, Any], text: str):
    fields = parse_fields(text)
    once = fields.project(obj)
    assert fields.project(once) == once
    assert set(once) <= set(obj)
