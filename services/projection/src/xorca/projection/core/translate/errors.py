"""The one error a translation raises: the record cannot be turned into a client object.

The projection dead-letters the message that carried such a record and goes on; everything short
of that (a missing optional field, a value of the wrong type, a link to nothing) is tolerated by
leaving the field out, so this error means "unusable", not "imperfect".
"""

from __future__ import annotations

__all__ = ["TranslationError"]


class TranslationError(ValueError):
    """The record of ``cls`` ``ref`` cannot be translated: ``reason`` says why."""

    def __init__(self, cls: str, ref: str, reason: str) -> None:
        super().__init__(f"cannot translate {cls} {ref}: {reason}")
        self.cls = cls
        self.ref = ref
        self.reason = reason
