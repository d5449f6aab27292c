"""The JSON Schema of the client objects, from their models (`xorca.projection.core.objects`).

``python -m xorca.projection.schema > docs/objects.schema.json`` writes it; a test checks that
the committed file is what this module generates, and another that every object the translation
makes validates against it. The web UI's TypeScript types (``web/src/types/objects.ts``) are
generated from the committed file (``npm run types`` in ``web/``).

The document is JSON Schema 2020-12: the root is one of the object types (by ``type``), each
defined in ``$defs`` under its model's name. No ``null`` anywhere: an optional field is one that
may be absent (docs/objects.md, "No null"), so the optional fields of the models, ``X | None``
in Python, are plain ``X`` here, neither required nor defaulted. Properties have no titles (the
TypeScript generator would make a type alias of each).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from xorca.projection.core.objects import ClientObject

__all__ = ["document", "render"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REF = "#/$defs/{model}"
DESCRIPTION = (
    "A client object of xorca (docs/objects.md): what the REST collections list, the SSE stream "
    "and the xorca.v1.delta subjects carry. Generated from xorca.projection.core.objects."
)


class _ClientSchema(GenerateJsonSchema):
    """Pydantic's JSON schema without nulls, defaults or property titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        # the only defaults are the None of optional fields: absent means absent
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: CoreSchema | Any) -> bool:
        return False


def document() -> dict[str, Any]:
    """The schema, as a JSON-ready dict (deterministic: same models, same bytes)."""
    schema = TypeAdapter(ClientObject).json_schema(
        by_alias=True, ref_template=REF, schema_generator=_ClientSchema
    )
    defs = schema.pop("$defs")
    return {
        "$schema": DIALECT,
        "title": "ClientObject",
        "description": DESCRIPTION,
        **schema,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
